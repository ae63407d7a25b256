/**
 * CVE-2021-20271 class: signature data where it does not belong. Only the signature header's
 * digests and signatures count, and the main header must be exactly one immutable region, so that
 * the bytes a signature covers are the whole main header. Every attack here is also run through
 * `rpmkeys --checksig` as qvm-template runs it, to show where tmpl is stricter.
 *
 * Not a defineAttack file: the attacks are on the package verifier (tmpl's and rpmkeys' verdicts
 * side by side on crafted packages), with no template install and no Qubes state to watch.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerificationError } from '../../protocol/errors.ts';
import { parsePackageHead, type PackageHead } from '../../protocol/rpm-package.ts';
import { verifyHeaderSignature } from '../../protocol/rpm-signature.ts';
import { RpmType, SigTag, Tag } from '../../protocol/rpm-tags.ts';
import {
  buildRpm,
  makeGpgKey,
  removeGpgKey,
  signRpm,
  type GpgKey,
  GPG_BATCH,
} from '../helpers/rpm-fixtures.ts';
import { assemblePackage, rawEntries, writeHeader, type RawEntry } from '../helpers/rpm-header-writer.ts';
import { rpmkeysVerify, tmplVerify } from '../helpers/verify-runners.ts';

let dir: string;
let key: GpgKey;
let pub: openpgp.PublicKey;
let trusted: Uint8Array;
let trustedHead: PackageHead;
let evil: Uint8Array;
let evilHead: PackageHead;

const str = (s: string) => new TextEncoder().encode(s + '\0');
const sorted = (e: RawEntry[]) => e.sort((a, b) => a.tag - b.tag);

/** Signs bytes as rpmsign does: a detached binary OpenPGP signature by the trusted key. */
async function gpgSign(data: Uint8Array): Promise<Uint8Array> {
  const input = path.join(dir, 'to-sign.bin');
  await writeFile(input, data);
  await execa(
    'gpg',
    [
      ...GPG_BATCH,
      '-u',
      key.fingerprint,
      '--digest-algo',
      'sha256',
      '--yes',
      '-o',
      `${input}.sig`,
      '--detach-sign',
      input,
    ],
    { env: { GNUPGHOME: key.gnupgHome } },
  );
  return new Uint8Array(await readFile(`${input}.sig`));
}

function digestEntries(header: Uint8Array): RawEntry[] {
  return [
    {
      tag: SigTag.SHA1HEADER,
      type: RpmType.STRING,
      count: 1,
      data: str(createHash('sha1').update(header).digest('hex')),
    },
    {
      tag: SigTag.SHA256HEADER,
      type: RpmType.STRING,
      count: 1,
      data: str(createHash('sha256').update(header).digest('hex')),
    },
  ];
}

function sigEntry(head: PackageHead, tag: number): RawEntry {
  const e = head.signature.entry(tag)!;
  return { tag, type: e.type, count: e.count, data: head.signature.data(e).slice() };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-sec-sigtags-'));
  key = await makeGpgKey('Trusted Template Signer');
  pub = await openpgp.readKey({ armoredKey: key.publicKeyArmored });
  const good = await buildRpm({
    dir,
    name: 'qubes-template-good',
    version: '1',
    release: '1',
    files: [{ path: '/var/lib/qubes/vm-templates/good/template.conf', content: 'good\n' }],
  });
  await signRpm(good, key);
  trusted = new Uint8Array(await readFile(good));
  trustedHead = parsePackageHead(trusted);
  const bad = await buildRpm({
    dir,
    name: 'qubes-template-good',
    version: '1',
    release: '1',
    postScript: 'echo pwned',
    files: [{ path: '/var/lib/qubes/vm-templates/good/template.conf', content: 'evil\n' }],
  });
  evil = new Uint8Array(await readFile(bad));
  evilHead = parsePackageHead(evil);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (key !== undefined) await removeGpgKey(key);
});

async function bothVerdicts(label: string, bytes: Uint8Array) {
  const p = path.join(dir, `${label}.rpm`);
  await writeFile(p, bytes);
  const [ours, theirs] = await Promise.all([
    tmplVerify([p], [key.publicKeyPath]),
    rpmkeysVerify([p], [key.publicKeyPath]),
  ]);
  return { ours: ours.verdicts.get(p)!, rpm: theirs.get(p)! };
}

async function headerCode(head: PackageHead): Promise<string> {
  try {
    await verifyHeaderSignature(head, [pub]);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(VerificationError);
    return (e as VerificationError).code;
  }
}

describe('signature tags in the main header never count', () => {
  it("an attacker's header carrying a trusted package's signature and digests is refused", async () => {
    // The attacker's own main header, with the trusted signature and digests copied into it, and a
    // signature header holding only honest digests of the attacker's header.
    const mainHeader = writeHeader(
      63,
      sorted([
        ...rawEntries(evilHead.header),
        sigEntry(trustedHead, SigTag.RSAHEADER),
        sigEntry(trustedHead, SigTag.SHA256HEADER),
      ]),
    );
    const pkg = assemblePackage(
      evil.subarray(0, 96),
      writeHeader(62, digestEntries(mainHeader)),
      mainHeader,
      evil.subarray(evilHead.payloadOffset),
    );
    expect(await headerCode(parsePackageHead(pkg))).toBe('signature.in-main-header');
    const v = await bothVerdicts('copied-into-main', pkg);
    expect(v.ours.ok).toBe(false);
    expect(v.ours.code).toBe('signature.in-main-header');
    expect(v.rpm.ok).toBe(false);
  });

  it('signature tags in a main header that the trusted key really signed are still refused', async () => {
    // rpmkeys --checksig accepts this (rpm refuses it only when installing, in
    // headerMergeLegacySigs); tmpl refuses it when verifying.
    const mainHeader = writeHeader(
      63,
      sorted([
        ...rawEntries(trustedHead.header),
        { tag: Tag.SHA256HEADER, type: RpmType.STRING, count: 1, data: str('0'.repeat(64)) },
      ]),
    );
    const signature = await gpgSign(mainHeader);
    const sigHeader = writeHeader(
      62,
      sorted([
        ...digestEntries(mainHeader),
        { tag: SigTag.RSAHEADER, type: RpmType.BIN, count: signature.length, data: signature },
      ]),
    );
    const pkg = assemblePackage(
      trusted.subarray(0, 96),
      sigHeader,
      mainHeader,
      trusted.subarray(trustedHead.payloadOffset),
    );
    expect(await headerCode(parsePackageHead(pkg))).toBe('signature.in-main-header');
    const v = await bothVerdicts('signed-with-sigtag', pkg);
    expect(v.rpm.ok).toBe(true);
    expect(v.ours.code).toBe('signature.in-main-header');
    // The same construction without the extra tag is accepted by both: the signing above is sound.
    const clean = trustedHead.headerBytes;
    const cleanSig = await gpgSign(clean);
    const ok = assemblePackage(
      trusted.subarray(0, 96),
      writeHeader(
        62,
        sorted([
          ...digestEntries(clean),
          { tag: SigTag.RSAHEADER, type: RpmType.BIN, count: cleanSig.length, data: cleanSig },
        ]),
      ),
      clean,
      trusted.subarray(trustedHead.payloadOffset),
    );
    const both = await bothVerdicts('resigned-clean', ok);
    expect([both.ours.ok, both.rpm.ok]).toEqual([true, true]);
  });

  it('tags appended after the signed region of a trusted header are refused', async () => {
    // The trusted header's bytes, plus one more index entry (a NAME override) and its data after
    // the region trailer: the region still describes the signed part.
    const h = trustedHead.headerBytes;
    const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
    const il = view.getUint32(8);
    const dl = view.getUint32(12);
    const extraData = str('qubes-template-evil');
    const out = new Uint8Array(h.length + 16 + extraData.length);
    const o = new DataView(out.buffer);
    out.set(h.subarray(0, 16 + il * 16));
    o.setUint32(8, il + 1);
    o.setUint32(12, dl + extraData.length);
    const entry = 16 + il * 16;
    o.setUint32(entry, Tag.NAME);
    o.setUint32(entry + 4, RpmType.STRING);
    o.setUint32(entry + 8, dl);
    o.setUint32(entry + 12, 1);
    out.set(h.subarray(16 + il * 16), entry + 16);
    out.set(extraData, entry + 16 + dl);
    const sigHeader = trusted.subarray(96, trustedHead.header.fileOffset);
    const pkg = new Uint8Array(
      96 + sigHeader.length + out.length + trusted.length - trustedHead.payloadOffset,
    );
    pkg.set(trusted.subarray(0, 96));
    pkg.set(sigHeader, 96);
    pkg.set(out, 96 + sigHeader.length);
    pkg.set(trusted.subarray(trustedHead.payloadOffset), 96 + sigHeader.length + out.length);
    expect(() => parsePackageHead(pkg)).toThrowError(
      expect.objectContaining({ code: 'rpm.header.trailing' }),
    );
    const v = await bothVerdicts('appended-after-region', pkg);
    expect(v.ours.code).toBe('rpm.header.trailing');
    expect(v.rpm.ok).toBe(false);
  });

  it('the untouched trusted package passes both, so the refusals above are about the attacks', async () => {
    const v = await bothVerdicts('trusted', trusted);
    expect([v.ours.ok, v.rpm.ok]).toEqual([true, true]);
    expect(await headerCode(trustedHead)).toBe('ok');
  });
});
