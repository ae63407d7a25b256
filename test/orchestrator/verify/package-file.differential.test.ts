/**
 * Differential test: `tmpl verify` (the real CLI) against `rpmkeys --checksig` as qvm-template
 * runs it, on packages built by rpmbuild and signed by rpmsign, and on deterministic mutations of
 * them. Where rpm refuses a package, tmpl must refuse it too, always. Where rpm accepts one, tmpl
 * must accept it too, except for the few structures tmpl refuses on purpose (STRICTER_CODES).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePackageHead, type PackageHead } from '../../../protocol/rpm-package.ts';
import { SigTag, Tag } from '../../../protocol/rpm-tags.ts';
import {
  ALL_COMPRESSORS,
  buildRpm,
  makeGpgKey,
  removeGpgKey,
  rpmkeysCheck,
  signRpm,
  type GpgKey,
} from '../../helpers/rpm-fixtures.ts';
import { rebuildPackage } from '../../helpers/rpm-header-writer.ts';
import { rpmkeysVerify, tmplVerify } from '../../helpers/verify-runners.ts';

/** Structures rpm tolerates in the (unsigned) signature header and tmpl refuses. */
const STRICTER_CODES = new Set([
  'rpm.header.trailing',
  'rpm.header.duplicate-tag',
  'rpm.header.region',
  'rpm.signature.padding',
]);

let dir: string;
let trusted: GpgKey;
let other: GpgKey;
const fixtures: { label: string; path: string; expectOk: boolean }[] = [];

function templateFiles(name: string) {
  const base = `/var/lib/qubes/vm-templates/${name}`;
  return [
    { path: `${base}/template.conf`, content: `virt_mode=pvh\nkernel=\n` },
    { path: `${base}/root.img.part.00`, content: new Uint8Array(3000).fill(7) },
    { path: `${base}/root.img.part.01`, sparseSize: 1 << 20, content: 'part' },
  ];
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-verify-diff-'));
  [trusted, other] = await Promise.all([makeGpgKey('Trusted Signer'), makeGpgKey('Other Signer')]);
  for (const [i, compressor] of ALL_COMPRESSORS.entries()) {
    const name = `qubes-template-c${i}`;
    const p = await buildRpm({
      dir,
      name,
      version: '4.2.0',
      release: `20260101${i}`,
      ...(i % 2 === 0 ? { epoch: i } : {}),
      compressor,
      files: templateFiles(name),
    });
    await signRpm(p, trusted);
    fixtures.push({ label: `signed ${compressor}`, path: p, expectOk: true });
  }
  const v3 = await buildRpm({
    dir,
    name: 'qubes-template-v3',
    version: '1',
    release: '1',
    compressor: 'w9.gzdio',
    files: templateFiles('v3'),
  });
  await signRpm(v3, trusted, { rpmv3: true });
  fixtures.push({ label: 'signed --rpmv3', path: v3, expectOk: true });
  const unsigned = await buildRpm({
    dir,
    name: 'qubes-template-unsigned',
    version: '1',
    release: '1',
    files: templateFiles('unsigned'),
  });
  fixtures.push({ label: 'unsigned', path: unsigned, expectOk: false });
  const foreign = await buildRpm({
    dir,
    name: 'qubes-template-foreign',
    version: '1',
    release: '1',
    files: templateFiles('foreign'),
  });
  await signRpm(foreign, other, { rpmv3: true });
  fixtures.push({ label: 'signed by another key', path: foreign, expectOk: false });
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await Promise.all([trusted, other].filter(Boolean).map(removeGpgKey));
});

function fixture(label: string): string {
  const f = fixtures.find((x) => x.label === label);
  if (f === undefined) throw new Error(`no fixture ${label}`);
  return f.path;
}

/** Byte positions worth flipping, derived from the package's own structure. */
function mutationPositions(file: Uint8Array, head: PackageHead): { label: string; pos: number }[] {
  const out: { label: string; pos: number }[] = [];
  for (const p of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 40, 75, 76, 77, 78, 79, 80, 95])
    out.push({ label: `lead+${p}`, pos: p });
  const headers: [string, PackageHead['signature']][] = [
    ['sig', head.signature],
    ['main', head.header],
  ];
  for (const [name, h] of headers) {
    const start = h.fileOffset;
    for (let p = 0; p < 16; p++) out.push({ label: `${name} preamble+${p}`, pos: start + p });
    const il = h.entries.length + 1;
    const limit = name === 'sig' ? il : Math.min(il, 4);
    for (let i = 0; i < limit; i++) {
      for (const f of [0, 3, 7, 11, 15])
        out.push({ label: `${name} index ${i}+${f}`, pos: start + 16 + i * 16 + f });
    }
    const entries = name === 'sig' ? h.entries : h.entries.filter((_, i) => i % 9 === 0);
    for (const e of entries) {
      const at = h.dataOffset(e);
      out.push({ label: `${name} tag ${e.tag} data first`, pos: at });
      out.push({ label: `${name} tag ${e.tag} data last`, pos: at + e.length - 1 });
    }
    const end = start + h.bytes.length;
    for (const p of [1, 8, 9, 16]) out.push({ label: `${name} trailer -${p}`, pos: end - p });
  }
  const sigEnd = head.signature.fileOffset + head.signature.bytes.length;
  for (let p = sigEnd; p < head.header.fileOffset; p++) out.push({ label: `padding+${p - sigEnd}`, pos: p });
  const po = head.payloadOffset;
  for (const p of [po, po + 1, Math.floor((po + file.length) / 2), file.length - 1])
    out.push({ label: `payload@${p}`, pos: p });
  return out;
}

function truncationPoints(file: Uint8Array, head: PackageHead): number[] {
  const sigEnd = head.signature.fileOffset + head.signature.bytes.length;
  const mh = head.header.fileOffset;
  return [
    0,
    1,
    95,
    96,
    100,
    112,
    120,
    sigEnd - 1,
    sigEnd,
    mh,
    mh + 8,
    mh + 16,
    mh + 100,
    head.payloadOffset - 1,
    head.payloadOffset,
    head.payloadOffset + 1,
    file.length - 1,
  ];
}

async function compare(
  cases: { label: string; bytes: Uint8Array }[],
  keyPaths: string[],
  digestsOnly = false,
) {
  const paths: string[] = [];
  for (const [i, c] of cases.entries()) {
    const p = path.join(dir, `mutant-${i}.rpm`);
    await writeFile(p, c.bytes);
    paths.push(p);
  }
  const [ours, theirs] = await Promise.all([
    tmplVerify(paths, keyPaths, digestsOnly ? ['--nogpgcheck'] : []),
    rpmkeysVerify(paths, keyPaths, 2, digestsOnly),
  ]);
  const rows = cases.map((c, i) => ({
    label: c.label,
    ours: ours.verdicts.get(paths[i]!)!,
    rpm: theirs.get(paths[i]!)!,
  }));
  await Promise.all(paths.map((p) => rm(p)));
  return rows;
}

function assertAgreement(rows: Awaited<ReturnType<typeof compare>>) {
  const falseAccepts = rows.filter((r) => r.ours.ok && !r.rpm.ok).map((r) => `${r.label}: ${r.ours.line}`);
  expect(falseAccepts).toEqual([]);
  const divergent = rows.filter((r) => !r.ours.ok && r.rpm.ok);
  const unexplained = divergent
    .filter((r) => !STRICTER_CODES.has(r.ours.code ?? ''))
    .map((r) => `${r.label}: ${r.ours.line}`);
  expect(unexplained).toEqual([]);
  return divergent;
}

describe('tmpl verify agrees with rpmkeys --checksig', () => {
  it('on every fixture, with the exact incumbent check', async () => {
    const paths = fixtures.map((f) => f.path);
    const { exitCode, verdicts } = await tmplVerify(paths, [trusted.publicKeyPath]);
    expect(exitCode).toBe(1);
    for (const f of fixtures) {
      const incumbent = await rpmkeysCheck(f.path, [trusted.publicKeyPath]);
      expect({ label: f.label, rpm: incumbent.ok }).toEqual({ label: f.label, rpm: f.expectOk });
      expect({ label: f.label, ours: verdicts.get(f.path)!.ok }).toEqual({
        label: f.label,
        ours: f.expectOk,
      });
    }
    expect(verdicts.get(fixture('unsigned'))!.code).toBe('signature.missing');
    expect(verdicts.get(fixture('signed by another key'))!.code).toBe('signature.untrusted-key');
    expect(verdicts.get(fixture('signed w3.zstdio'))!.line).toBe(
      `${fixture('signed w3.zstdio')}: digests signatures OK`,
    );
  });

  it('exits 0 when all pass, and trusts a package once its key is given', async () => {
    const good = fixtures.filter((f) => f.expectOk).map((f) => f.path);
    expect((await tmplVerify(good, [trusted.publicKeyPath])).exitCode).toBe(0);
    const foreign = fixture('signed by another key');
    const both = await tmplVerify([foreign], [trusted.publicKeyPath, other.publicKeyPath]);
    expect(both.exitCode).toBe(0);
    expect((await rpmkeysCheck(foreign, [trusted.publicKeyPath, other.publicKeyPath])).ok).toBe(true);
  });

  it('--nogpgcheck checks digests only', async () => {
    const r = await tmplVerify([fixture('unsigned'), fixture('signed by another key')], [], ['--nogpgcheck']);
    expect(r.exitCode).toBe(0);
    expect([...r.verdicts.values()].map((v) => v.line.replace(/^.*: /, ''))).toEqual([
      'digests OK',
      'digests OK',
    ]);
  });

  for (const base of ['signed w3.zstdio', 'signed --rpmv3']) {
    it(`on byte flips, truncations and appended data of the ${base} package`, async () => {
      const file = new Uint8Array(await readFile(fixture(base)));
      const head = parsePackageHead(file);
      const cases: { label: string; bytes: Uint8Array }[] = [];
      for (const { label, pos } of mutationPositions(file, head)) {
        // The top bit matters in index fields (rpm reads tags and offsets as signed).
        for (const bit of label.startsWith('sig ') ? [0x01, 0x80] : [0x01]) {
          const bytes = file.slice();
          bytes[pos]! ^= bit;
          cases.push({ label: `${label} ^${bit}`, bytes });
        }
      }
      for (const n of truncationPoints(file, head))
        cases.push({ label: `truncated to ${n}`, bytes: file.slice(0, n) });
      for (const extra of [1, 100]) {
        const bytes = new Uint8Array(file.length + extra);
        bytes.set(file);
        cases.push({ label: `${extra} bytes appended`, bytes });
      }
      const rows = await compare(cases, [trusted.publicKeyPath]);
      const divergent = assertAgreement(rows);
      // The mutations must exercise both outcomes, or the comparison proves nothing.
      expect(rows.filter((r) => r.rpm.ok).length).toBeGreaterThan(20);
      expect(rows.filter((r) => !r.rpm.ok).length).toBeGreaterThan(100);
      // tmpl is stricter only in the signature header and its padding, which no digest covers:
      // non-zero padding, a data length grown into the padding (rpm does not require the signature
      // region to span all the data), a tag number flipped into a duplicate (rpm uses the first).
      const where: Record<string, RegExp> = {
        'rpm.signature.padding': /^padding\+/,
        'rpm.header.trailing': /^sig preamble\+1[45] /,
        'rpm.header.duplicate-tag': /^sig index \d+\+[03] /,
      };
      expect(
        divergent
          .filter((r) => !(where[r.ours.code ?? '']?.test(r.label) ?? false))
          .map((r) => `${r.label}: ${r.ours.line}`),
      ).toEqual([]);
    }, 180_000);
  }

  it('--nogpgcheck agrees with rpmkeys --nosignature at digest level, on mutations of unsigned and --rpmv3 packages', async () => {
    const cases: { label: string; bytes: Uint8Array }[] = [];
    for (const base of ['unsigned', 'signed --rpmv3']) {
      const file = new Uint8Array(await readFile(fixture(base)));
      const head = parsePackageHead(file);
      cases.push({ label: `${base} unchanged`, bytes: file });
      for (const { label, pos } of mutationPositions(file, head)) {
        if (label.startsWith('main index') || label.startsWith('lead')) continue;
        const bytes = file.slice();
        bytes[pos]! ^= 0x01;
        cases.push({ label: `${base} ${label}`, bytes });
      }
      for (const n of truncationPoints(file, head).slice(-4))
        cases.push({ label: `${base} truncated to ${n}`, bytes: file.slice(0, n) });
    }
    const rows = await compare(cases, [], true);
    expect(rows.filter((r) => r.label.endsWith('unchanged')).map((r) => [r.ours.ok, r.rpm.ok])).toEqual([
      [true, true],
      [true, true],
    ]);
    const divergent = assertAgreement(rows);
    expect(
      divergent
        .filter((r) => !/ (padding|sig index \d+\+[03]$|sig preamble\+1[45]$)/.test(r.label))
        .map((r) => `${r.label}: ${r.ours.line}`),
    ).toEqual([]);
    expect(rows.filter((r) => r.rpm.ok).length).toBeGreaterThan(10);
    expect(rows.filter((r) => !r.rpm.ok).length).toBeGreaterThan(40);
  }, 180_000);

  it('on signature tags moved into the main header, duplicated, or a signature header without region', async () => {
    const file = new Uint8Array(await readFile(fixture('signed --rpmv3')));
    const head = parsePackageHead(file);
    const take =
      (tags: number[]) =>
      <T extends { tag: number }>(e: T[]) =>
        e.filter((x) => !tags.includes(x.tag));
    const sigEntry = (tag: number) => {
      const e = head.signature.entry(tag)!;
      return { tag, type: e.type, count: e.count, data: head.signature.data(e).slice() };
    };
    const sorted = <T extends { tag: number }>(e: T[]) => e.sort((a, b) => a.tag - b.tag);
    const cases = [
      { label: 'rebuilt unchanged', bytes: rebuildPackage(file, head, {}), rpm: true, ours: true },
      {
        label: 'RSAHEADER moved to the main header',
        bytes: rebuildPackage(file, head, {
          signature: take([SigTag.RSAHEADER]),
          header: (e) => sorted([...e, sigEntry(SigTag.RSAHEADER)]),
        }),
        rpm: false,
        ours: false,
      },
      {
        label: 'RSAHEADER and SHA256HEADER copied into the main header',
        bytes: rebuildPackage(file, head, {
          header: (e) => sorted([...e, sigEntry(SigTag.RSAHEADER), sigEntry(SigTag.SHA256HEADER)]),
        }),
        rpm: false,
        ours: false,
      },
      {
        label: 'all signatures and digests moved to the main header',
        bytes: rebuildPackage(file, head, {
          signature: take([SigTag.RSAHEADER, SigTag.SHA256HEADER, SigTag.SHA1HEADER, SigTag.PGP, SigTag.MD5]),
          header: (e) =>
            sorted([
              ...e,
              sigEntry(SigTag.RSAHEADER),
              sigEntry(SigTag.SHA256HEADER),
              sigEntry(SigTag.SHA1HEADER),
            ]),
        }),
        rpm: false,
        ours: false,
      },
      {
        label: 'SHA256HEADER duplicated in the signature header',
        bytes: rebuildPackage(file, head, {
          signature: (e) => sorted([...e, sigEntry(SigTag.SHA256HEADER)]),
        }),
        rpm: true,
        ours: false,
      },
      {
        label: 'RSAHEADER duplicated in the signature header',
        bytes: rebuildPackage(file, head, { signature: (e) => sorted([...e, sigEntry(SigTag.RSAHEADER)]) }),
        rpm: true,
        ours: false,
      },
      {
        label: 'signature header without a region',
        bytes: rebuildPackage(file, head, { signatureRegion: null }),
        rpm: true,
        ours: false,
      },
      {
        label: 'PAYLOADDIGEST removed from the main header',
        bytes: rebuildPackage(file, head, { header: take([Tag.PAYLOADDIGEST]) }),
        rpm: false,
        ours: false,
      },
    ];
    const rows = await compare(cases, [trusted.publicKeyPath]);
    expect(rows.map((r) => ({ label: r.label, rpm: r.rpm.ok, ours: r.ours.ok }))).toEqual(
      cases.map((c) => ({ label: c.label, rpm: c.rpm, ours: c.ours })),
    );
    assertAgreement(rows);
  }, 120_000);
});
