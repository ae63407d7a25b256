/**
 * Test fixtures made with the real tools users trust: gpg keys, template-shaped packages built
 * with rpmbuild, signed with rpmsign and checked with rpmkeys exactly as qvm-template does.
 *
 * Every rpm invocation gets its own --dbpath and _tmppath under the caller's directory, so nothing
 * touches ~/.rpmdb or /var/tmp.
 */
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/** Fixed build time for reproducible packages (2026-01-01T00:00:00Z). */
export const FIXTURE_BUILDTIME = 1_767_225_600;

/** gpg's fake clock for signing: later than any key made today, so signatures are never "in the future". */
const GPG_FAKED_SYSTEM_TIME = '20270101T000000!';

export interface GpgKey {
  readonly gnupgHome: string;
  /** Long key id, 16 uppercase hex digits. */
  readonly keyId: string;
  /** 40 uppercase hex digits. */
  readonly fingerprint: string;
  readonly publicKeyArmored: string;
  readonly publicKeyPath: string;
}

export type RpmCompressor =
  'w2.xzdio' | 'w19.zstdio' | 'w3.zstdio' | 'w9.gzdio' | 'w9.bzdio' | 'w6.lzdio' | 'w0.ufdio';

export const ALL_COMPRESSORS: readonly RpmCompressor[] = [
  'w2.xzdio',
  'w19.zstdio',
  'w3.zstdio',
  'w9.gzdio',
  'w9.bzdio',
  'w6.lzdio',
  'w0.ufdio',
];

export interface FixtureFile {
  /** Absolute install path, e.g. /var/lib/qubes/vm-templates/NAME/template.conf. */
  readonly path: string;
  readonly content?: Uint8Array | string;
  /** Make a sparse file of this apparent size (content, if any, is written at the start). */
  readonly sparseSize?: number;
  /** Permission bits, e.g. 0o644. */
  readonly mode?: number;
}

export interface BuildRpmOptions {
  /** Working directory: topdir, tmppath, dbpath and the output all go below it. */
  readonly dir: string;
  readonly name: string;
  readonly version: string;
  readonly release: string;
  readonly epoch?: number;
  readonly compressor?: RpmCompressor;
  readonly files: readonly FixtureFile[];
  readonly summary?: string;
  readonly description?: string;
  readonly license?: string;
  readonly url?: string;
  readonly buildtime?: number;
  readonly preScript?: string;
  readonly postScript?: string;
}

/** gpg without a terminal and with keys that have no passphrase (throwaway keys of the tests). */
export const GPG_BATCH = ['--batch', '--pinentry-mode', 'loopback', '--passphrase', ''] as const;

/** A throwaway gpg key in its own GNUPGHOME below a fresh temp directory. */
export async function makeGpgKey(name: string): Promise<GpgKey> {
  const base = await mkdtemp(path.join(tmpdir(), 'tmpl-gpg-'));
  const gnupgHome = path.join(base, 'gnupg');
  await mkdir(gnupgHome, { mode: 0o700 });
  const env = { GNUPGHOME: gnupgHome };
  const uid = `${name} <${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}@example.invalid>`;
  await execa('gpg', [...GPG_BATCH, '--quick-gen-key', uid, 'rsa2048', 'sign', 'never'], { env });
  const { stdout: colons } = await execa(
    'gpg',
    ['--batch', '--with-colons', '--fingerprint', '--list-keys', uid],
    { env },
  );
  let keyId = '';
  let fingerprint = '';
  for (const line of colons.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === 'pub' && keyId === '') keyId = fields[4] ?? '';
    if (fields[0] === 'fpr' && fingerprint === '') fingerprint = fields[9] ?? '';
  }
  if (!/^[0-9A-F]{16}$/.test(keyId) || !/^[0-9A-F]{40}$/.test(fingerprint)) {
    throw new Error(`could not read the new key's id from gpg: ${colons}`);
  }
  const { stdout: publicKeyArmored } = await execa('gpg', ['--batch', '--armor', '--export', fingerprint], {
    env,
  });
  const publicKeyPath = path.join(base, `${keyId}.asc`);
  await writeFile(publicKeyPath, publicKeyArmored + '\n');
  return { gnupgHome, keyId, fingerprint, publicKeyArmored, publicKeyPath };
}

/** Removes the temp directory makeGpgKey created. */
export async function removeGpgKey(key: GpgKey): Promise<void> {
  await rm(path.dirname(key.gnupgHome), { recursive: true, force: true });
}

/** rpm spec text must not expand macros from fixture strings. */
function specText(value: string): string {
  return value.replace(/%/g, '%%');
}

function quotePath(p: string): string {
  if (!p.startsWith('/') || /["\n]/.test(p)) throw new Error(`bad fixture path ${p}`);
  return `"${specText(p)}"`;
}

/** Builds a noarch package with rpmbuild and returns the path of the .rpm file. */
export async function buildRpm(opts: BuildRpmOptions): Promise<string> {
  const work = await mkdtemp(path.join(opts.dir, `rpmbuild-${opts.name}-`));
  const topdir = path.join(work, 'top');
  const stage = path.join(work, 'stage');
  const rpmdir = path.join(work, 'out');
  const tmppath = path.join(work, 'tmp');
  const dbpath = path.join(work, 'db');
  for (const d of [topdir, stage, rpmdir, tmppath, dbpath]) await mkdir(d, { recursive: true });

  for (const file of opts.files) {
    const target = path.join(stage, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    const content =
      typeof file.content === 'string'
        ? new TextEncoder().encode(file.content)
        : (file.content ?? new Uint8Array(0));
    await writeFile(target, content);
    if (file.sparseSize !== undefined) {
      const handle = await open(target, 'r+');
      try {
        await handle.truncate(file.sparseSize);
        // A little data at the end too, so the file is not all zeros after its first block.
        if (file.sparseSize > content.length + 16) {
          await handle.write(new TextEncoder().encode('end-of-sparse\n'), 0, 14, file.sparseSize - 14);
        }
      } finally {
        await handle.close();
      }
    }
  }

  const buildtime = opts.buildtime ?? FIXTURE_BUILDTIME;
  const lines = [
    `Name: ${opts.name}`,
    `Version: ${opts.version}`,
    `Release: ${opts.release}`,
    ...(opts.epoch !== undefined ? [`Epoch: ${opts.epoch}`] : []),
    `Summary: ${specText(opts.summary ?? `Qubes template ${opts.name}`)}`,
    `License: ${specText(opts.license ?? 'GPLv2+')}`,
    ...(opts.url !== undefined ? [`URL: ${specText(opts.url)}`] : []),
    'BuildArch: noarch',
    'AutoReqProv: no',
    '',
    '%description',
    specText(opts.description ?? `Template fixture ${opts.name}.`),
    '',
    '%install',
    'mkdir -p %{buildroot}',
    `cp -a --sparse=always "${stage}/." %{buildroot}/`,
    '',
    ...(opts.preScript !== undefined ? ['%pre', specText(opts.preScript), ''] : []),
    ...(opts.postScript !== undefined ? ['%post', specText(opts.postScript), ''] : []),
    '%files',
    ...opts.files.map(
      (f) => `%attr(${(f.mode ?? 0o644).toString(8).padStart(4, '0')},root,root) ${quotePath(f.path)}`,
    ),
    '',
  ];
  const spec = path.join(work, `${opts.name}.spec`);
  await writeFile(spec, lines.join('\n'));

  const defines: Record<string, string> = {
    _topdir: topdir,
    _rpmdir: rpmdir,
    _tmppath: tmppath,
    _dbpath: dbpath,
    _binary_payload: opts.compressor ?? 'w3.zstdio',
    _buildhost: 'fixture.invalid',
    use_source_date_epoch_as_buildtime: '1',
    clamp_mtime_to_source_date_epoch: '1',
    source_date_epoch_from_changelog: '0',
    debug_package: '%{nil}',
    __os_install_post: '%{nil}',
    _build_id_links: 'none',
    _binary_filedigest_algorithm: '8',
  };
  const args = ['-bb', '--quiet'];
  for (const [k, v] of Object.entries(defines)) args.push('--define', `${k} ${v}`);
  args.push(spec);
  await execa('rpmbuild', args, {
    env: { SOURCE_DATE_EPOCH: String(buildtime), LC_ALL: 'C', HOME: work },
  });
  const arch = 'noarch';
  const rpmFile = path.join(rpmdir, arch, `${opts.name}-${opts.version}-${opts.release}.${arch}.rpm`);
  const out = path.join(opts.dir, `${opts.name}-${opts.version}-${opts.release}.${arch}.rpm`);
  await writeFile(out, await readFile(rpmFile));
  await rm(work, { recursive: true, force: true });
  return out;
}

/** Signs a package in place with rpmsign (header-only V4 signature; --rpmv3 adds the legacy one). */
export async function signRpm(pkgPath: string, key: GpgKey, opts: { rpmv3?: boolean } = {}): Promise<void> {
  const tmppath = await mkdtemp(path.join(tmpdir(), 'tmpl-rpmsign-'));
  try {
    const args = [
      '--addsign',
      ...(opts.rpmv3 ? ['--rpmv3'] : []),
      '--define',
      `_gpg_name ${key.fingerprint}`,
      '--define',
      `_gpg_path ${key.gnupgHome}`,
      '--define',
      '__gpg /usr/bin/gpg',
      '--define',
      `_gpg_sign_cmd_extra_args --faked-system-time ${GPG_FAKED_SYSTEM_TIME}`,
      '--define',
      `_tmppath ${tmppath}`,
      '--define',
      `_dbpath ${path.join(tmppath, 'db')}`,
      pkgPath,
    ];
    await execa('rpmsign', args, {
      env: { GNUPGHOME: key.gnupgHome, LC_ALL: 'C', HOME: tmppath },
      stdin: 'ignore',
    });
  } finally {
    await rm(tmppath, { recursive: true, force: true });
  }
}

/**
 * The incumbent's check (qvm-template): import the keys into a fresh rpm database, then
 * `rpmkeys --checksig` with _pkgverify_level all on the package read from stdin.
 */
export async function rpmkeysCheck(
  pkgPath: string,
  publicKeyPaths: readonly string[],
): Promise<{ ok: boolean; output: string }> {
  const db = await mkdtemp(path.join(tmpdir(), 'tmpl-rpmdb-'));
  try {
    const env = { LC_ALL: 'C', HOME: db };
    for (const keyPath of publicKeyPaths) {
      await execa('rpmkeys', [`--dbpath=${db}`, '--define', `_tmppath ${db}`, '--import', keyPath], {
        env,
      });
    }
    const result = await execa(
      'rpmkeys',
      [
        `--dbpath=${db}`,
        '--define',
        `_tmppath ${db}`,
        '--define=_pkgverify_level all',
        '--define=_pkgverify_flags 0x0',
        '--checksig',
        '-',
      ],
      { env, inputFile: pkgPath, reject: false, all: true },
    );
    const output = result.all ?? '';
    return { ok: result.exitCode === 0 && output.trim() === '-: digests signatures OK', output };
  } finally {
    await rm(db, { recursive: true, force: true });
  }
}
