# /srv/user_salt/top.sls: which machine applies which tmpl state.
# dom0 installs the policy, prepares the worker's disposable template and tags the management VM;
# the base template gets the worker package; the management VM installs the templates.
# Names here must match the pillar (pillar/tmpl.sls): tmpl:worker:template and tmpl:manager.
base:
  dom0:
    - tmpl.policy
    - tmpl.worker
    - tmpl.manager
  fedora-42-minimal:
    - tmpl.worker-package
  tmpl-mgmt:
    - tmpl.templates
