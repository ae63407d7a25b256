# /srv/user_pillar/top.sls: the tmpl pillar for every machine that applies a tmpl state.
base:
  dom0:
    - tmpl
  tmpl-mgmt:
    - tmpl
