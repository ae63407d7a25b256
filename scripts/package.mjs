#!/usr/bin/env node
// Builds the packages from the specs in packaging/ with rpmbuild and dpkg-deb, offline:
//   tmpl-V-R.noarch.rpm, tmpl_V-R_all.deb             the command line (dom0, management VM)
//   tmpl-worker-V-R.x86_64.rpm, tmpl-worker_V-R_amd64.deb  tmpl.Worker and its native addons
//   tmpl-dom0-policy-V-R.noarch.rpm                   the qrexec policy (dom0)
// Each package's tree is staged first (modes set here, owners by the spec's %attr or
// dpkg-deb --root-owner-group); the RPM specs copy the staged tree, the debs are made from it.
// packaging/manifest.json lists what each package must contain (test/packaging checks it).
//
// Usage: node scripts/package.mjs [--out DIR] [--skip-build]   (default out: dist/packages)
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { addonRuntimeFiles } from './package-addons.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const argValue = (name) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const out = path.resolve(argValue('--out') ?? path.join(dist, 'packages'));
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const release = '1';
/** Where the CLI and the worker live when installed; qrexec-policy/qubes-rpc/tmpl.Worker's default TMPL_HOME. */
const LIB = 'usr/lib/tmpl';

if (!process.argv.includes('--skip-build')) {
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--bundles-only'], {
    cwd: root,
    stdio: 'inherit',
  });
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const work = mkdtempSync(path.join(tmpdir(), 'tmpl-package-'));
try {
  for (const format of ['rpm', 'deb']) {
    stageTmpl(path.join(work, `tmpl-${format}`), format);
    stageWorker(path.join(work, `tmpl-worker-${format}`), format);
  }
  stagePolicy(path.join(work, 'tmpl-dom0-policy-rpm'));
  for (const name of ['tmpl', 'tmpl-worker', 'tmpl-dom0-policy']) rpm(name, work);
  deb('tmpl', path.join(work, 'tmpl-deb'), []);
  deb('tmpl-worker', path.join(work, 'tmpl-worker-deb'), ['/etc/qubes-rpc/tmpl.Worker']);
} finally {
  rmSync(work, { recursive: true, force: true });
}
for (const file of readdirSync(out).sort()) process.stdout.write(`${path.join(out, file)}\n`);

/** Copies `from` to `dir/relative` with `mode`. */
function put(dir, relative, from, mode) {
  const to = path.join(dir, relative);
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, mode);
}

function write(dir, relative, bytes, mode) {
  const to = path.join(dir, relative);
  mkdirSync(path.dirname(to), { recursive: true });
  writeFileSync(to, bytes);
  chmodSync(to, mode);
}

/** A bundle with its `#!/usr/bin/env node` line naming the packaged dependency, /usr/bin/node. */
function withSystemNode(file) {
  const text = readFileSync(file, 'utf8');
  if (!text.startsWith('#!/usr/bin/env node\n')) throw new Error(`${file}: unexpected first line`);
  return `#!/usr/bin/node\n${text.slice(text.indexOf('\n') + 1)}`;
}

/** Licence files: /usr/share/licenses/NAME (Fedora) or /usr/share/doc/NAME/copyright (Debian). */
function stageLicences(dir, name, format, notices) {
  const docDir = format === 'rpm' ? `usr/share/licenses/${name}` : `usr/share/doc/${name}`;
  put(dir, `${docDir}/${format === 'rpm' ? 'LICENSE' : 'copyright'}`, path.join(root, 'LICENSE'), 0o644);
  if (notices)
    put(dir, `${docDir}/THIRD-PARTY-NOTICES.txt`, path.join(dist, 'THIRD-PARTY-NOTICES.txt'), 0o644);
}

function stageTmpl(dir, format) {
  write(dir, `${LIB}/bin/tmpl.mjs`, withSystemNode(path.join(dist, 'tmpl.mjs')), 0o755);
  // Relative links: the same tree works under a scratch root. The bundle answers as
  // tmpl-install when invoked under that name (orchestrator/cli/entry.ts).
  mkdirSync(path.join(dir, 'usr/bin'), { recursive: true });
  for (const name of ['tmpl', 'tmpl-install']) {
    symlinkSync(`../lib/tmpl/bin/tmpl.mjs`, path.join(dir, 'usr/bin', name));
    // man pages gzipped as both distributions ship them (gzip's header carries no timestamp here).
    write(
      dir,
      `usr/share/man/man1/${name}.1.gz`,
      gzipSync(readFileSync(path.join(dist, 'man', `${name}.1`)), { level: 9 }),
      0o644,
    );
    // bash-completion loads completions/NAME for the command NAME.
    put(
      dir,
      `usr/share/bash-completion/completions/${name}`,
      path.join(dist, 'completion', `${name}.bash`),
      0o644,
    );
  }
  // The rollback-protection state (orchestrator/transaction/rollback-state.ts DEFAULT_STATE_DIR).
  mkdirSync(path.join(dir, 'var/lib/tmpl'), { recursive: true });
  chmodSync(path.join(dir, 'var/lib/tmpl'), 0o755);
  stageLicences(dir, 'tmpl', format, true);
}

function stageWorker(dir, format) {
  put(dir, 'etc/qubes-rpc/tmpl.Worker', path.join(root, 'qrexec-policy/qubes-rpc/tmpl.Worker'), 0o755);
  // Run as `node .../tmpl-worker.mjs` by the service file: not executable itself.
  write(dir, `${LIB}/bin/tmpl-worker.mjs`, withSystemNode(path.join(dist, 'tmpl-worker.mjs')), 0o644);
  for (const { relative, mode } of addonRuntimeFiles(root)) {
    put(dir, `${LIB}/${relative}`, path.join(root, relative), mode);
  }
  stageLicences(dir, 'tmpl-worker', format, true);
}

function stagePolicy(dir) {
  put(dir, 'etc/qubes/policy.d/70-tmpl.policy', path.join(root, 'qrexec-policy/70-tmpl.policy'), 0o664);
  stageLicences(dir, 'tmpl-dom0-policy', 'rpm', false);
}

function rpm(name, work) {
  const top = path.join(work, `rpmbuild-${name}`);
  execFileSync(
    'rpmbuild',
    [
      '-bb',
      '--quiet',
      '--define',
      `_topdir ${top}`,
      '--define',
      `tmpl_stage ${path.join(work, `${name}-rpm`)}`,
      '--define',
      `tmpl_version ${version}`,
      '--define',
      `tmpl_release ${release}`,
      path.join(root, 'packaging', `${name}.spec`),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  for (const arch of readdirSync(path.join(top, 'RPMS'))) {
    for (const file of readdirSync(path.join(top, 'RPMS', arch))) {
      renameSync(path.join(top, 'RPMS', arch, file), path.join(out, file));
    }
  }
}

function deb(name, dir, conffiles) {
  const control = readFileSync(path.join(root, 'packaging/debian', `${name}.control`), 'utf8');
  const full = `${version}-${release}`;
  write(dir, 'DEBIAN/control', control.replaceAll('@VERSION@', full), 0o644);
  if (conffiles.length > 0) write(dir, 'DEBIAN/conffiles', conffiles.map((f) => `${f}\n`).join(''), 0o644);
  const arch = /^Architecture: (\S+)$/m.exec(control)[1];
  execFileSync(
    'dpkg-deb',
    ['--root-owner-group', '-Zxz', '--build', dir, path.join(out, `${name}_${full}_${arch}.deb`)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}
