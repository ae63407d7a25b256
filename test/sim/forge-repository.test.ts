/**
 * Forged repositories read by real dnf (TOOLING.md's invocation), with repo_gpgcheck on and off,
 * every primary compression, and through a metalink served by two repo-server mirrors.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  forgeRepository,
  forgeTemplate,
  generateSigningKey,
  type ForgedTemplate,
  type MetadataCompression,
  type SigningKey,
} from '../../sim/forge/index.ts';
import { startRepoServer } from '../../sim/repo-server/index.ts';

interface PrimaryEntry {
  location: { '@_href': string };
  checksum: { '#text': string };
  size: { '@_package': string; '@_archive': string; '@_installed': string };
  format: { 'rpm:header-range': { '@_start': string; '@_end': string } };
}

let work: string;
let key: SigningKey;
let otherKey: SigningKey;
let keyPath: string;
let packages: ForgedTemplate[];

const EXPECTED_NEVRAS = [
  'qubes-template-debian-12-0:4.2.0-202601010000.noarch',
  'qubes-template-fedora-40-1:4.2.0-202512010000.noarch',
  'qubes-template-fedora-40-1:4.2.0-202601010000.noarch',
];

async function repoquery(
  repoConfig: Record<string, string>,
): Promise<{ exitCode: number; lines: string[]; output: string }> {
  const base = await mkdtemp(path.join(work, 'dnf-'));
  const reposdir = path.join(base, 'repos');
  await mkdir(reposdir);
  const body = Object.entries({
    name: 'forged',
    enabled: '1',
    gpgcheck: '1',
    gpgkey: `file://${keyPath}`,
    ...repoConfig,
  })
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  await writeFile(path.join(reposdir, 'forged.repo'), `[forged]\n${body}\n`);
  const result = await execa(
    'dnf',
    [
      '-y',
      '-q',
      `--setopt=reposdir=${reposdir}`,
      '--setopt=skip_if_unavailable=False',
      `--installroot=${path.join(base, 'root')}`,
      `--setopt=cachedir=${path.join(base, 'cache')}`,
      '--releasever=4.2',
      '--disableplugin=local',
      'repoquery',
      '--qf',
      '%{name}-%{epoch}:%{version}-%{release}.%{arch}',
      '*',
    ],
    { env: { LC_ALL: 'C', HOME: base }, reject: false, all: true, stdin: 'ignore' },
  );
  const lines = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('qubes-template-'))
    .sort();
  return { exitCode: result.exitCode ?? -1, lines, output: result.all ?? '' };
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-forge-repo-'));
  [key, otherKey] = await Promise.all([generateSigningKey('Repo Signer'), generateSigningKey('Impostor')]);
  keyPath = path.join(work, 'key.asc');
  await writeFile(keyPath, key.publicKeyArmored);
  const pool = path.join(work, 'pool');
  await mkdir(pool);
  const common = {
    version: '4.2.0',
    image: { size: 1024 * 1024, extents: [{ offset: 4096, length: 10_000, seed: 'img' }] },
    partSize: 8192,
    signingKey: key,
    outDir: pool,
    tempDir: work,
  };
  packages = [
    await forgeTemplate({
      ...common,
      name: 'fedora-40',
      epoch: 1,
      release: '202601010000',
      license: 'GPL & <MIT>',
    }),
    await forgeTemplate({ ...common, name: 'fedora-40', epoch: 1, release: '202512010000' }),
    await forgeTemplate({ ...common, name: 'debian-12', release: '202601010000', compressor: 'xz' }),
  ];
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('forgeRepository with dnf', () => {
  it.each([
    ['gz', ['0', '1']],
    ['xz', ['1']],
    ['zst', ['0']],
    ['none', ['1']],
  ] as [MetadataCompression, string[]][])(
    'primary.xml %s is read by dnf repoquery (repo_gpgcheck %j)',
    async (primaryCompression, gpgChecks) => {
      const dir = path.join(work, `repo-${primaryCompression}`);
      const repo = await forgeRepository({
        dir,
        packages: packages.map((p) => p.path),
        signingKey: key,
        revision: 1_767_225_600,
        primaryCompression,
      });
      expect(repo.signaturePath).toBe(path.join(dir, 'repodata', 'repomd.xml.asc'));
      for (const gpg of gpgChecks) {
        const r = await repoquery({ baseurl: `file://${dir}`, repo_gpgcheck: gpg });
        expect(r.exitCode, r.output).toBe(0);
        expect(r.lines).toEqual(EXPECTED_NEVRAS);
      }
    },
  );

  it('repomd.xml signed by another key: refused with repo_gpgcheck, read without', async () => {
    const dir = path.join(work, 'repo-impostor');
    await forgeRepository({ dir, packages: packages.map((p) => p.path), signingKey: otherKey });
    const checked = await repoquery({ baseurl: `file://${dir}`, repo_gpgcheck: '1' });
    expect(checked.exitCode).not.toBe(0);
    expect(checked.lines).toEqual([]);
    const unchecked = await repoquery({ baseurl: `file://${dir}`, repo_gpgcheck: '0' });
    expect(unchecked.lines).toEqual(EXPECTED_NEVRAS);
  });

  it('unsigned repository: refused with repo_gpgcheck', async () => {
    const dir = path.join(work, 'repo-unsigned');
    const repo = await forgeRepository({ dir, packages: packages.map((p) => p.path) });
    expect(repo.signaturePath).toBeNull();
    const r = await repoquery({ baseurl: `file://${dir}`, repo_gpgcheck: '1' });
    expect(r.exitCode).not.toBe(0);
  });

  it('primary.xml records checksum, sizes, location and header range of each package', async () => {
    const dir = path.join(work, 'repo-fields');
    await forgeRepository({ dir, packages: packages.map((p) => p.path), revision: 42 });
    const repomd = new XMLParser({ ignoreAttributes: false }).parse(
      await readFile(path.join(dir, 'repodata/repomd.xml'), 'utf8'),
    );
    expect(repomd.repomd.revision).toBe(42);
    const data = repomd.repomd.data as { '@_type': string; location: { '@_href': string } }[];
    expect(data.map((d) => d['@_type'])).toEqual(['primary', 'filelists', 'other']);
    const primaryXml = gunzipSync(await readFile(path.join(dir, data[0]!.location['@_href']))).toString();
    const primary = new XMLParser({ ignoreAttributes: false }).parse(primaryXml);
    const entries = primary.metadata.package as PrimaryEntry[];
    expect(entries).toHaveLength(3);
    for (const p of packages) {
      const entry = entries.find((e) => e.location['@_href'] === p.fileName)!;
      const bytes = await readFile(p.path);
      expect(entry.checksum['#text']).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(Number(entry.size['@_package'])).toBe(bytes.length);
      expect(Number(entry.size['@_archive'])).toBe(p.archiveSize);
      expect(Number(entry.size['@_installed'])).toBe(p.installedSize);
      expect(Number(entry.format['rpm:header-range']['@_start'])).toBe(p.headerStart);
      expect(Number(entry.format['rpm:header-range']['@_end'])).toBe(p.headerEnd);
    }
    expect(primaryXml).toContain('<rpm:license>GPL &amp; &lt;MIT&gt;</rpm:license>');
  });
});

describe('metalink through two mirrors', () => {
  it('dnf follows the metalink to the healthy mirror when the first one fails', async () => {
    const dir = path.join(work, 'repo-mirrored');
    const broken = await startRepoServer({ root: dir });
    const healthy = await startRepoServer({ root: dir });
    try {
      await forgeRepository({
        dir,
        packages: packages.map((p) => p.path),
        signingKey: key,
        metalink: { mirrors: [broken.url, healthy.url] },
      });
      broken.setFaults([{ path: '/repodata/**', fault: { kind: 'status', status: 500 } }]);
      const r = await repoquery({
        metalink: `${healthy.url}/repodata/repomd.xml.metalink`,
        repo_gpgcheck: '1',
      });
      expect(r.exitCode, r.output).toBe(0);
      expect(r.lines).toEqual(EXPECTED_NEVRAS);
      expect(broken.requests.some((q) => q.status === 500)).toBe(true);
      expect(healthy.requests.some((q) => q.path === '/repodata/repomd.xml' && q.status === 200)).toBe(true);
    } finally {
      await broken.close();
      await healthy.close();
    }
  });

  it('a metalink whose digests do not match repomd.xml is refused', async () => {
    const dir = path.join(work, 'repo-stale-metalink');
    const server = await startRepoServer({ root: dir });
    try {
      await forgeRepository({
        dir,
        packages: packages.map((p) => p.path),
        metalink: { mirrors: [server.url] },
      });
      const metalink = await readFile(path.join(dir, 'repodata/repomd.xml.metalink'), 'utf8');
      await forgeRepository({ dir, packages: packages.slice(0, 1).map((p) => p.path), revision: 7 });
      await writeFile(path.join(dir, 'repodata/repomd.xml.metalink'), metalink);
      const r = await repoquery({
        metalink: `${server.url}/repodata/repomd.xml.metalink`,
        repo_gpgcheck: '0',
      });
      expect(r.exitCode).not.toBe(0);
    } finally {
      await server.close();
    }
  });
});
