# dom0: tmpl's qrexec policy (qrexec-policy/70-tmpl.policy in tmpl's sources, copied to
# /srv/user_salt/tmpl/files/). 70- is where vendors' allow rules go, so the user's own
# 30-user.policy can still deny them. qrexec reads policy.d again when a file changes.
tmpl-policy:
  file.managed:
    - name: /etc/qubes/policy.d/70-tmpl.policy
    - source: salt://tmpl/files/70-tmpl.policy
    - user: root
    - group: qubes
    - mode: '0664'
