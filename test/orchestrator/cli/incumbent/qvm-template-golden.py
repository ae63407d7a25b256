"""
Prints what qvm-template itself (qubesadmin/tools/qvm_template.py) shows for the data of
test/cli/golden.test.ts, to compare with the snapshots in test/cli/__snapshots__/golden/:

    git -C QUBES_CORE_ADMIN_CLIENT archive HEAD qubesadmin | tar -x -C DIR
    /usr/bin/python3 test/cli/incumbent/qvm-template-golden.py DIR list --installed --available --extras --upgrades

Needs python3-rpm (Debian's /usr/bin/python3). qvm-template's repository query and Qubes are
replaced by the golden test's packages and VMs; package sizes are 24064 (the snapshots show
<size>). Output differs from tmpl's only where tmpl deliberately differs: a '|' inside a
--machine-readable field other than the last is '?'.
"""
import sys, types, datetime, argparse, os
sys.path.insert(0, sys.argv.pop(1))
if not os.path.isdir(os.path.join(sys.path[0], 'qubesadmin-0.dist-info')):
    os.makedirs(os.path.join(sys.path[0], 'qubesadmin-0.dist-info'))
    with open(os.path.join(sys.path[0], 'qubesadmin-0.dist-info', 'METADATA'), 'w') as f:
        f.write('Metadata-Version: 2.1\nName: qubesadmin\nVersion: 4.3.0\n')
for m in ['tqdm', 'xdg']: sys.modules[m] = types.ModuleType(m)
x = types.ModuleType('xdg.BaseDirectory'); x.xdg_cache_home = '/tmp'; sys.modules['xdg.BaseDirectory'] = x; sys.modules['xdg'].BaseDirectory = x
import qubesadmin.tools.qvm_template as q

SIZE = 24064
D = lambda s: datetime.datetime.strptime(s, '%Y-%m-%d %H:%M:%S')
def T(name, release, bt, epoch='0', lic='GPL-2.0-or-later', url='https://www.qubes-os.org/', summary=None, desc=None):
    return q.Template(name, epoch, '4.3.0', release, 'qubes-templates-sim', SIZE, D(bt), lic, url,
        summary or f'Qubes template for {name}', desc or f'Qubes template for {name}.')
REPO = [
  T('fedora-42-xfce', '202601010000', '2026-01-01 00:00:00'),
  T('fedora-42-xfce', '202602010000', '2026-02-01 00:00:00'),
  T('fedora-42-minimal', '202601010000', '2026-01-01 00:00:00', summary='Minimal Fedora 42 template',
    desc='A minimal Fedora template.\nSee https://www.qubes-os.org/doc/templates/minimal/'),
  T('debian-13-xfce', '202601150000', '2026-01-15 00:00:00', lic='GPL-2.0-or-later AND MIT',
    summary='Debian 13 | Xfce', desc='First line of the description.\nSecond line | with a bar.'),
  T('whonix-gateway-18', '202601200000', '2026-01-20 00:00:00', epoch='1', url='https://www.whonix.org/',
    summary='Whonix Gateway', desc='Anonymity through Tor (fedora-free).'),
]
def seed(name):
    return {'template-name': name, 'template-epoch': '0', 'template-version': '4.3.0', 'template-release': '202501151000',
      'template-reponame': 'qubes-templates-itl', 'template-buildtime': '2025-01-15 10:00:00',
      'template-installtime': '2025-02-01 09:30:00', 'template-license': 'GPLv3+', 'template-url': 'https://www.qubes-os.org',
      'template-summary': f'Qubes OS template for {name}', 'template-description': f'Qubes OS template for {name}'}
class VM:
    def __init__(self, name, features): self.name, self.features = name, features
    def get_disk_utilization(self): return 0
hand = {'template-name': 'fedora-42-xfce', 'template-epoch': '0', 'template-version': '4.3.0', 'template-release': '202601010000',
  'template-reponame': 'qubes-templates-sim', 'template-buildtime': '2026-01-01 00:00:00', 'template-installtime': '2026-01-02 03:04:05',
  'template-license': 'GPL-2.0-or-later', 'template-url': 'https://www.qubes-os.org/', 'template-summary': 'Qubes template for fedora-42-xfce',
  'template-description': 'Qubes template for fedora-42-xfce.'}
clone = dict(hand); clone['template-release'] = '1'
DOMAINS = [VM('debian-12-xfce', seed('debian-12-xfce')), VM('dom0', {}), VM('fedora-41-xfce', seed('fedora-41-xfce')),
  VM('fedora-42-clone', clone), VM('fedora-42-xfce', hand), VM('my-custom-template', {})]
class App: domains = DOMAINS
def repoquery(args, app, spec=None):
    if spec is None: return sorted(REPO, key=lambda t: '|'.join(map(str, t[:5])))
    return [t for t in REPO if q.is_match_spec(t.name, t.epoch, t.version, t.release, spec[len('qubes-template-'):])[0]]
q.qrexec_repoquery = repoquery

cmd, *rest = sys.argv[1:]
a = argparse.Namespace(installed=False, available=False, extras=False, upgrades=False, all=False, all_versions=False,
  machine_readable=False, machine_readable_json=False, templates=[])
for r in rest:
    if r.startswith('--'): setattr(a, r[2:].replace('-', '_'), True)
    else: a.templates.append(r)
if cmd == 'search': q.search(a, App())
else: q.list_templates(a, App(), cmd)
sys.stdout.flush()
