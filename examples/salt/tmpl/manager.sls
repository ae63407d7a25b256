# dom0: the management VM that runs tmpl. The policy grants its Admin API calls and the worker
# service to the tag tmpl-manager. Not needed when tmpl runs in dom0.
tmpl-manager-tag:
  qvm.tags:
    - name: {{ salt['pillar.get']('tmpl:manager', 'tmpl-mgmt') }}
    - add:
      - tmpl-manager
