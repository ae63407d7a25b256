# /srv/user_pillar/tmpl.sls
tmpl:
  # The management VM that runs tmpl (tagged tmpl-manager by tmpl.manager).
  manager: tmpl-mgmt
  worker:
    # The disposable template the worker runs in, and the template it is based on (which has the
    # tmpl-worker package installed: tmpl.worker-package).
    name: tmpl-dvm
    template: fedora-42-minimal
  # Templates tmpl installs (tmpl.templates), by name.
  templates:
    - fedora-42-xfce
    - debian-13-xfce
