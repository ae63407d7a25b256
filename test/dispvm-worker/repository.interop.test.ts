/**
 * Repositories made with rpmbuild and createrepo_c, read with our parsers and with dnf: the
 * template listings must agree field for field with `dnf repoquery` in qvm-template's format.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRepomdData, parseRepomd, verifyRepomdSignature } from '../../dispvm-worker/repomd.ts';
import { readPrimary, type PrimaryPackage } from '../../dispvm-worker/primary.ts';
import { checkRepomdAgainstMetalink, parseMetalink } from '../../dispvm-worker/metalink.ts';
import { VerificationError } from '../../protocol/errors.ts';
import { matchesSpec, templateNameOfPackage } from '../../protocol/spec-match.ts';
import { makeGpgKey, removeGpgKey, type GpgKey } from '../helpers/rpm-fixtures.ts';
import { metalinkXml, sha256 } from '../helpers/rpm-md-documents.ts';
import {
  buildRepo,
  dnfBuildtime,
  dnfRepoquery,
  dnfRepoqueryWithRepoFile,
  makeTempDir,
  signRepomd,
  type DnfRecord,
  type FixtureRepo,
} from '../helpers/repo-fixture.ts';

let base: string;
let stable: FixtureRepo;
let testing: FixtureRepo;
let key: GpgKey;
let otherKey: GpgKey;

beforeAll(async () => {
  base = await makeTempDir('tmpl-repo-interop-');
  [key, otherKey] = await Promise.all([makeGpgKey('Repo Signer'), makeGpgKey('Someone Else')]);
  stable = await buildRepo(base, 'qubes-templates-itl', [
    {
      name: 'qubes-template-fedora-41',
      version: '4.2.0',
      release: '202501010000',
      summary: 'Fedora 41 template & friends',
      description: 'Line one & <two>\n\n  Line "three" é — ünïcode\ttab',
      license: 'GPLv2+ and MIT',
      url: 'https://www.qubes-os.org/doc/templates/fedora/?a=1&b=2',
      buildtime: 1_735_689_600,
    },
    { name: 'qubes-template-fedora-41', version: '4.2.0', release: '202502010000', buildtime: 1_738_368_000 },
    {
      name: 'qubes-template-debian-12',
      version: '4.2.0',
      release: '1',
      epoch: 1,
      license: 'GPL-2.0-or-later',
    },
    { name: 'not-a-template', version: '1.0', release: '1' },
  ]);
  testing = await buildRepo(base, 'qubes-templates-itl-testing', [
    { name: 'qubes-template-fedora-41', version: '4.3.0~rc1', release: '1' },
    { name: 'qubes-template-whonix-17', version: '4.2.0^post1', release: '202503010000', epoch: 2 },
  ]);
  await signRepomd(stable, key);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
  await Promise.all([removeGpgKey(key), removeGpgKey(otherKey)]);
});

async function ourListing(repo: FixtureRepo, primaryOverride?: string): Promise<PrimaryPackage[]> {
  const repomd = parseRepomd(await readFile(path.join(repo.dir, 'repodata', 'repomd.xml')));
  const entry = findRepomdData(repomd, 'primary');
  if (entry === undefined) throw new Error('no primary');
  const file = await readFile(path.join(repo.dir, primaryOverride ?? entry.locationHref));
  return readPrimary(file, entry, repo.id);
}

/** Our listing rendered as dnf renders it (url '(none)' when empty, build time to the minute). */
function asDnf(p: PrimaryPackage): DnfRecord {
  return {
    name: p.name,
    epoch: String(p.epoch),
    version: p.version,
    release: p.release,
    repoid: p.repoid,
    downloadsize: String(p.downloadsize),
    buildtime: dnfBuildtime(p.buildtime),
    license: p.license,
    url: p.url === '' ? '(none)' : p.url,
    summary: p.summary,
    description: p.description,
  };
}

const byNevra = (a: DnfRecord, b: DnfRecord): number =>
  `${a.repoid}/${a.name}-${a.epoch}:${a.version}-${a.release}`.localeCompare(
    `${b.repoid}/${b.name}-${b.epoch}:${b.version}-${b.release}`,
  );

describe('primary.xml listings agree with dnf repoquery', () => {
  it('lists every template package of both repositories with the same fields', async () => {
    const ours = [...(await ourListing(stable)), ...(await ourListing(testing))].map(asDnf).sort(byNevra);
    const dnf = (await dnfRepoquery([stable, testing]))
      .filter((r) => r.name.startsWith('qubes-template-'))
      .sort(byNevra);
    expect(dnf).toHaveLength(5);
    expect(ours).toEqual(dnf);
  });

  it('reads the download location and package checksum createrepo_c wrote', async () => {
    const listing = await ourListing(testing);
    for (const p of listing) {
      const rpm = await readFile(path.join(testing.dir, p.locationHref));
      expect(rpm.length).toBe(p.downloadsize);
      expect(createHash(p.checksum.type).update(rpm).digest('hex')).toBe(p.checksum.value);
    }
  });

  it('matches specs as dnf matches the same globs on package NEVRs', async () => {
    const all = [...(await ourListing(stable)), ...(await ourListing(testing))];
    for (const spec of ['fedora-41-4.2.0-*', 'debian-12-1:4.2.0', '*-4.3.0~rc1-1']) {
      const ours = all
        .filter((p) =>
          matchesSpec(spec, {
            name: templateNameOfPackage(p.name)!,
            epoch: p.epoch,
            version: p.version,
            release: p.release,
          }),
        )
        .map(asDnf)
        .sort(byNevra);
      const dnf = (await dnfRepoquery([stable, testing], { spec: `qubes-template-${spec}` })).sort(byNevra);
      expect(ours.length).toBeGreaterThan(0);
      expect(ours).toEqual(dnf);
    }
  });

  it('reads primary recompressed by hand as zstd and xz, with repomd checksums edited', async () => {
    const expected = await ourListing(stable);
    const repomdPath = path.join(stable.dir, 'repodata', 'repomd.xml');
    const original = await readFile(repomdPath, 'utf8');
    const entry = findRepomdData(parseRepomd(Buffer.from(original)), 'primary')!;
    const xml = gunzipSync(await readFile(path.join(stable.dir, entry.locationHref)));
    for (const [tool, ext] of [
      ['zstd', 'zst'],
      ['xz', 'xz'],
    ] as const) {
      const { stdout } = await execa(tool, ['-c', '-q'], { input: xml, encoding: 'buffer' });
      const compressed = Buffer.from(stdout);
      const digest = createHash('sha256').update(compressed).digest('hex');
      const href = `repodata/${digest}-primary.xml.${ext}`;
      await writeFile(path.join(stable.dir, href), compressed);
      const edited = original
        .replace(entry.checksum.value, digest)
        .replace(entry.locationHref, href)
        .replace(`<size>${entry.size}</size>`, `<size>${compressed.length}</size>`);
      const repomd = parseRepomd(Buffer.from(edited));
      const newEntry = findRepomdData(repomd, 'primary')!;
      expect(newEntry.locationHref).toBe(href);
      expect(await readPrimary(compressed, newEntry, stable.id)).toEqual(expected);
    }
  });
});

describe('repomd.xml detached signatures', () => {
  it('accepts what gpg signed and dnf accepts with repo_gpgcheck=1', async () => {
    const repomd = await readFile(path.join(stable.dir, 'repodata', 'repomd.xml'));
    const asc = await readFile(path.join(stable.dir, 'repodata', 'repomd.xml.asc'), 'utf8');
    const keys = [await openpgp.readKey({ armoredKey: key.publicKeyArmored })];
    await expect(verifyRepomdSignature(repomd, asc, keys)).resolves.toBeUndefined();
    const dnf = await dnfRepoquery([stable], { repoGpgKey: key });
    expect(dnf.length).toBe(4);
  });

  it('refuses a signature by another key, and a modified repomd.xml', async () => {
    const repomd = await readFile(path.join(stable.dir, 'repodata', 'repomd.xml'));
    const asc = await readFile(path.join(stable.dir, 'repodata', 'repomd.xml.asc'), 'utf8');
    const other = [await openpgp.readKey({ armoredKey: otherKey.publicKeyArmored })];
    const err1 = await verifyRepomdSignature(repomd, asc, other).catch((e: unknown) => e);
    expect(err1).toBeInstanceOf(VerificationError);
    expect((err1 as VerificationError).code).toBe('repomd.signature.unknown-key');

    const tampered = Buffer.from(
      repomd.toString('utf8').replace('<revision>1</revision>', '<revision>2</revision>'),
    );
    expect(tampered.equals(repomd)).toBe(false);
    const keys = [await openpgp.readKey({ armoredKey: key.publicKeyArmored })];
    const err2 = await verifyRepomdSignature(tampered, asc, keys).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(VerificationError);
    expect((err2 as VerificationError).code).toBe('repomd.signature.bad');
  });

  it('refuses an unsigned repository when a signature is required', async () => {
    const repomd = await readFile(path.join(testing.dir, 'repodata', 'repomd.xml'));
    const keys = [await openpgp.readKey({ armoredKey: key.publicKeyArmored })];
    const err = await verifyRepomdSignature(repomd, '', keys).catch((e: unknown) => e);
    expect((err as VerificationError).code).toBe('repomd.signature.malformed');
    const dnfFailure = await dnfRepoquery([testing], { repoGpgKey: key }).catch((e: unknown) => e);
    expect(dnfFailure).toBeInstanceOf(Error);
  });
});

describe('metalinks agree with dnf', () => {
  let server: Server;
  let origin: string;
  beforeAll(async () => {
    // Loopback only: serves the fixture directory (repositories and metalinks) to dnf.
    server = createServer((req, res) => {
      const file = path.join(base, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (!file.startsWith(base + path.sep)) {
        res.writeHead(403).end();
        return;
      }
      readFile(file).then(
        (data) => res.writeHead(200).end(data),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    origin = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function writeMetalink(name: string, hashes: Record<string, string>): Promise<Uint8Array> {
    const text = metalinkXml({
      hashes,
      urls: [
        // Preferred but dead: nothing listens on port 9 of loopback.
        { url: `http://127.0.0.1:9/${stable.id}/repodata/repomd.xml`, preference: '100' },
        { url: `${origin}/${stable.id}/repodata/repomd.xml`, preference: '90' },
      ],
    });
    await writeFile(path.join(base, name), text);
    return new TextEncoder().encode(text);
  }

  const repoFile = (name: string): string =>
    `[${stable.id}]\nname=${stable.id}\nmetalink=${origin}/${name}\ngpgcheck=0\n`;

  it('finds the mirrors and accepts the repomd.xml that dnf accepts', async () => {
    const repomd = await readFile(path.join(stable.dir, 'repodata', 'repomd.xml'));
    const sha512 = createHash('sha512').update(repomd).digest('hex');
    const metalink = parseMetalink(await writeMetalink('good.metalink', { sha256: sha256(repomd), sha512 }));
    expect(metalink.mirrors.map((m) => m.baseUrl)).toEqual([
      `http://127.0.0.1:9/${stable.id}/`,
      `${origin}/${stable.id}/`,
    ]);
    expect(checkRepomdAgainstMetalink(repomd, metalink)).toBe(metalink.repomd);
    const dnf = await dnfRepoqueryWithRepoFile(repoFile('good.metalink'));
    expect(dnf.map((r) => r.name).sort()).toEqual(
      (await ourListing(stable))
        .map((p) => p.name)
        .concat('not-a-template')
        .sort(),
    );
  });

  it('refuses a repomd.xml the metalink does not announce, as dnf does', async () => {
    const repomd = await readFile(path.join(stable.dir, 'repodata', 'repomd.xml'));
    const metalink = parseMetalink(
      await writeMetalink('bad.metalink', { sha256: sha256('another repomd.xml') }),
    );
    let error: unknown;
    try {
      checkRepomdAgainstMetalink(repomd, metalink);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).code).toBe('metalink.hash-mismatch');
    await expect(dnfRepoqueryWithRepoFile(repoFile('bad.metalink'))).rejects.toThrow();
  });
});
