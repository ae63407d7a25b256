# dom0: the disposable template tmpl's worker runs in. Its tag tmpl-worker is what the policy's
# `@dispvm:@tag:tmpl-worker` rule lets the management VM start disposables of.
tmpl-worker-dvm:
  qvm.vm:
    - name: {{ salt['pillar.get']('tmpl:worker:name', 'tmpl-dvm') }}
    - present:
      - template: {{ salt['pillar.get']('tmpl:worker:template', 'fedora-42-minimal') }}
      - label: red
    - prefs:
      - template: {{ salt['pillar.get']('tmpl:worker:template', 'fedora-42-minimal') }}
      - template_for_dispvms: True
    - tags:
      - add:
        - tmpl-worker
    - features:
      - enable:
        - internal
