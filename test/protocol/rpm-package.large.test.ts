/**
 * A template-shaped package whose image file is larger than 4 GiB (sparse, so cheap on disk):
 * rpmbuild switches to 64-bit sizes (LONGFILESIZES, LONGSIZE, signature LONGSIZE and
 * LONGARCHIVESIZE). The head must parse, PackageInfo must carry the exact sizes, and `tmpl verify`
 * must agree with rpmkeys.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packageInfo } from '../../protocol/rpm-info.ts';
import { parsePackageHead } from '../../protocol/rpm-package.ts';
import { SigTag, Tag } from '../../protocol/rpm-tags.ts';
import { buildRpm, makeGpgKey, removeGpgKey, signRpm, type GpgKey } from '../helpers/rpm-fixtures.ts';
import { rpmkeysVerify, tmplVerify } from '../helpers/verify-runners.ts';

const BIG = 2 ** 32 + 8192;
let dir: string;
let key: GpgKey;
let pkg: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-rpm-large-'));
  key = await makeGpgKey('Large Signer');
  pkg = await buildRpm({
    dir,
    name: 'qubes-template-large',
    version: '4.2.0',
    release: '1',
    compressor: 'w3.zstdio',
    files: [
      { path: '/var/lib/qubes/vm-templates/large/template.conf', content: 'virt_mode=pvh\n' },
      { path: '/var/lib/qubes/vm-templates/large/root.img', sparseSize: BIG, content: 'root' },
    ],
  });
  await signRpm(pkg, key);
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (key !== undefined) await removeGpgKey(key);
});

it('parses a package with a file over 4 GiB: 64-bit size tags', async () => {
  const head = parsePackageHead(new Uint8Array(await readFile(pkg)));
  expect(head.header.has(Tag.LONGFILESIZES)).toBe(true);
  expect(head.header.has(Tag.LONGSIZE)).toBe(true);
  expect(head.header.has(Tag.FILESIZES)).toBe(false);
  expect(head.signature.has(SigTag.LONGSIZE)).toBe(true);
  expect(head.signature.has(SigTag.LONGARCHIVESIZE)).toBe(true);
  const info = packageInfo(head.header);
  expect(info.files.map((f) => [f.path, f.size])).toEqual([
    ['/var/lib/qubes/vm-templates/large/root.img', BIG],
    ['/var/lib/qubes/vm-templates/large/template.conf', 14],
  ]);
  expect(info.size).toBe(BIG + 14);
  expect(head.signature.numbers(SigTag.LONGARCHIVESIZE)![0]).toBeGreaterThan(BIG);
});

it('tmpl verify and rpmkeys --checksig both accept it', async () => {
  const [ours, theirs] = await Promise.all([
    tmplVerify([pkg], [key.publicKeyPath]),
    rpmkeysVerify([pkg], [key.publicKeyPath]),
  ]);
  expect(ours.verdicts.get(pkg)!.line).toBe(`${pkg}: digests signatures OK`);
  expect(theirs.get(pkg)!.ok).toBe(true);
});
