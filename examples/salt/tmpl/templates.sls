# The management VM (or dom0): every template of the pillar's list, installed with tmpl.
# The check is the one Salt's qvm.template_installed makes: `info --installed
# --machine-readable-json NAME` names it in installed[0]. Without it the state would run tmpl
# every time; `tmpl install` of an installed template also exits 0 (status already-installed),
# and fails (template.name-taken) when another VM holds the name.
{% for name in salt['pillar.get']('tmpl:templates', []) %}
tmpl-template-{{ name }}:
  cmd.run:
    - name: tmpl --dispvm={{ salt['pillar.get']('tmpl:worker:name', 'tmpl-dvm') }} install --quiet --json {{ name }}
    - unless: >-
        tmpl info --installed --machine-readable-json {{ name }}
        | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["installed"][0]["name"] != sys.argv[1])' {{ name }}
{% endfor %}
