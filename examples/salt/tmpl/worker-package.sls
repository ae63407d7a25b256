# The worker's base template: the package with the tmpl.Worker qrexec service and the worker
# bundle (from the repository you publish tmpl's packages in).
tmpl-worker-package:
  pkg.installed:
    - name: tmpl-worker
