/**
 * The packages as the tests see them: built by the real script (scripts/package.mjs: rpmbuild,
 * dpkg-deb) into a scratch directory, read back with rpm and dpkg-deb (never from the staging
 * tree), and installed into scratch roots the way TOOLING.md describes (`rpm --root`,
 * `dpkg -x`), so what runs afterwards is what a package manager would have put on a machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const VERSION = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
/** rpmbuild and dpkg-deb for five packages on a loaded 2-core machine. */
export const BUILD_TIMEOUT_MS = 180_000;

/** One path of a package, as packaging/manifest.json lists it. */
export interface ManifestEntry {
  readonly type: 'file' | 'dir' | 'symlink';
  /** Permission bits, four octal digits. */
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  /** %config(noreplace) in an RPM, listed in DEBIAN/conffiles in a deb. */
  readonly config: boolean;
  readonly target?: string;
}

export interface PackageManifest {
  /** The package file's name, `{version}` standing for package.json's version. */
  readonly file: string;
  readonly entries: Record<string, ManifestEntry>;
}

export type Manifest = Record<string, PackageManifest>;

export function readManifest(): Manifest {
  return JSON.parse(readFileSync(path.join(REPO_ROOT, 'packaging/manifest.json'), 'utf8')) as Manifest;
}

export function packageFile(dir: string, manifest: PackageManifest): string {
  return path.join(dir, manifest.file.replaceAll('{version}', VERSION));
}

/** Runs `npm run package` (without rebuilding the bundles the global setup built) into a new directory. */
export async function buildPackages(): Promise<string> {
  const out = mkdtempSync(path.join(tmpdir(), 'tmpl-packages-'));
  await run(process.execPath, [path.join(REPO_ROOT, 'scripts/package.mjs'), '--skip-build', '--out', out], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  return out;
}

function typeOf(mode: number): ManifestEntry['type'] {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    default:
      throw new Error(`unexpected file type ${mode.toString(8)}`);
  }
}

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** `rpm -qp --dump`: path size mtime digest mode owner group isconfig isdoc rdev symlink. */
export async function rpmEntries(file: string): Promise<Record<string, ManifestEntry>> {
  const { stdout } = await run('rpm', ['-qp', '--dump', file]);
  const entries: Record<string, ManifestEntry> = {};
  for (const line of stdout.trim().split('\n')) {
    const [name, , , , modeText, owner, group, isConfig, , , link] = line.split(' ');
    const mode = Number.parseInt(modeText!, 8);
    const type = typeOf(mode);
    entries[name!] = {
      type,
      mode: octal(mode),
      owner: owner!,
      group: group!,
      config: isConfig === '1',
      ...(type === 'symlink' ? { target: link! } : {}),
    };
  }
  return entries;
}

function modeOf(permissions: string): number {
  let mode = 0;
  for (const [i, c] of [...permissions.slice(1)].entries()) if (c !== '-') mode |= 1 << (8 - i);
  return mode;
}

/** `dpkg-deb -c` (tar's listing) and the conffiles of DEBIAN/. */
export async function debEntries(file: string): Promise<Record<string, ManifestEntry>> {
  const { stdout } = await run('dpkg-deb', ['-c', file]);
  const conffiles = await run('dpkg-deb', ['-I', file, 'conffiles']).then(
    ({ stdout: text }) => new Set(text.trim().split('\n')),
    () => new Set<string>(),
  );
  const entries: Record<string, ManifestEntry> = {};
  for (const line of stdout.trim().split('\n')) {
    const match = /^([-dl][-rwxsStT]{9}) (\S+)\/(\S+)\s+\d+ \S+ \S+ \.(\/\S*?)\/?(?: -> (\S+))?$/.exec(line);
    if (!match) throw new Error(`unexpected dpkg-deb -c line: ${line}`);
    const [, permissions, owner, group, name, link] = match;
    if (name === '/' || name === '') continue;
    const type = permissions![0] === 'd' ? 'dir' : permissions![0] === 'l' ? 'symlink' : 'file';
    entries[name!] = {
      type,
      mode: octal(modeOf(permissions!)),
      owner: owner!,
      group: group!,
      config: conffiles.has(name!),
      ...(type === 'symlink' ? { target: link! } : {}),
    };
  }
  return entries;
}

/** What a package declares it needs: RPM Requires, or the deb's Depends and Pre-Depends. */
export async function requirements(file: string): Promise<string[]> {
  if (file.endsWith('.rpm')) {
    const { stdout } = await run('rpm', ['-qp', '--requires', file]);
    return stdout.trim().split('\n');
  }
  const { stdout } = await run('dpkg-deb', ['-f', file, 'Depends', 'Pre-Depends']);
  return stdout
    .replace(/^[A-Za-z-]+: /gm, '')
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Installs RPMs into a new scratch root: no dependency resolution, no scriptlets (there are none). */
export async function installRpms(files: readonly string[]): Promise<string> {
  const root = mkdtempSync(path.join(tmpdir(), 'tmpl-rpm-root-'));
  await run('rpm', ['--root', root, '-i', '--nodeps', '--noscripts', ...files]);
  return root;
}

/** Unpacks debs into a new scratch root, as dpkg would place their files. */
export async function installDebs(files: readonly string[]): Promise<string> {
  const root = mkdtempSync(path.join(tmpdir(), 'tmpl-deb-root-'));
  for (const file of files) await run('dpkg', ['-x', file, root]);
  return root;
}

/**
 * A service table (sim/qrexec/service-table.ts) for the simulator's disposables: tmpl.Worker is
 * the service file installed under `root`, with TMPL_HOME where the package put the worker.
 * `pathDirs`: the service's PATH inside the VM instead of the usual one (set by env(1) in the
 * sandbox: the simulator finds bwrap itself through the service's environment).
 */
export function installedWorkerService(root: string, pathDirs?: readonly string[]): Record<string, unknown> {
  const service = ['/bin/sh', path.join(root, 'etc/qubes-rpc/tmpl.Worker')];
  return {
    argv: pathDirs ? ['/usr/bin/env', `PATH=${pathDirs.join(':')}`, ...service] : service,
    env: { TMPL_HOME: path.join(root, 'usr/lib/tmpl') },
    readOnlyBinds: [root, ...(pathDirs ?? [])],
  };
}
