/**
 * verifyHeaderSignature on packages signed by rpmsign with throwaway gpg keys, and on signature
 * headers rearranged by hand (rpm >= 4.20's OPENPGP tag, signatures from elsewhere).
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerificationError } from '../../protocol/errors.ts';
import { parsePackageHead, type PackageHead } from '../../protocol/rpm-package.ts';
import { verifyHeaderSignature } from '../../protocol/rpm-signature.ts';
import { RpmType, SigTag, Tag } from '../../protocol/rpm-tags.ts';
import { buildRpm, makeGpgKey, removeGpgKey, signRpm, type GpgKey } from '../helpers/rpm-fixtures.ts';
import { rebuildPackage, type RawEntry } from '../helpers/rpm-header-writer.ts';

let dir: string;
let keyA: GpgKey;
let keyB: GpgKey;
let pubA: openpgp.PublicKey;
let pubB: openpgp.PublicKey;
const files: Record<'a' | 'av3' | 'b' | 'unsigned' | 'other', Uint8Array> = {} as never;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-rpm-sig-'));
  [keyA, keyB] = await Promise.all([makeGpgKey('Signer A'), makeGpgKey('Signer B')]);
  pubA = await openpgp.readKey({ armoredKey: keyA.publicKeyArmored });
  pubB = await openpgp.readKey({ armoredKey: keyB.publicKeyArmored });
  const files0 = [{ path: '/var/lib/qubes/vm-templates/s/template.conf', content: 'a=1\n' }];
  const unsigned = await buildRpm({
    dir,
    name: 'qubes-template-s',
    version: '1',
    release: '1',
    files: files0,
  });
  const other = await buildRpm({ dir, name: 'qubes-template-o', version: '2', release: '1', files: files0 });
  const copies = { a: 'a.rpm', av3: 'av3.rpm', b: 'b.rpm' };
  for (const f of Object.values(copies)) await copyFile(unsigned, path.join(dir, f));
  await signRpm(path.join(dir, copies.a), keyA);
  await signRpm(path.join(dir, copies.av3), keyA, { rpmv3: true });
  await signRpm(path.join(dir, copies.b), keyB);
  await signRpm(other, keyA);
  for (const [k, f] of Object.entries(copies))
    files[k as 'a'] = new Uint8Array(await readFile(path.join(dir, f)));
  files.unsigned = new Uint8Array(await readFile(unsigned));
  files.other = new Uint8Array(await readFile(other));
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await Promise.all([keyA, keyB].filter(Boolean).map(removeGpgKey));
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(VerificationError);
    return (e as VerificationError).code;
  }
  return 'ok';
}

function sigEntry(head: PackageHead, tag: number): RawEntry {
  const e = head.signature.entry(tag)!;
  return { tag, type: e.type, count: e.count, data: head.signature.data(e).slice() };
}

describe('verifyHeaderSignature', () => {
  it('accepts a package signed by a trusted key and names the key', async () => {
    for (const f of [files.a, files.av3]) {
      const r = await verifyHeaderSignature(parsePackageHead(f), [pubB, pubA]);
      expect(r).toEqual({
        signed: true,
        keyId: keyA.keyId,
        fingerprint: keyA.fingerprint,
        headerDigest: true,
      });
    }
  });

  it('refuses unsigned packages unless allowUnsigned, and untrusted keys', async () => {
    expect(await code(verifyHeaderSignature(parsePackageHead(files.unsigned), [pubA]))).toBe(
      'signature.missing',
    );
    expect(
      await verifyHeaderSignature(parsePackageHead(files.unsigned), [], { allowUnsigned: true }),
    ).toEqual({
      signed: false,
      headerDigest: true,
    });
    expect(await code(verifyHeaderSignature(parsePackageHead(files.b), [pubA]))).toBe(
      'signature.untrusted-key',
    );
    expect(await code(verifyHeaderSignature(parsePackageHead(files.b), []))).toBe('signature.untrusted-key');
  });

  it('detects a changed main header by its digest, and by the signature when digests are gone', async () => {
    const head = parsePackageHead(files.a);
    const summary = head.header.entry(Tag.SUMMARY)!;
    const flipped = files.a.slice();
    flipped[head.header.dataOffset(summary)]! ^= 0x20;
    expect(await code(verifyHeaderSignature(parsePackageHead(flipped), [pubA]))).toBe(
      'digest.header-mismatch',
    );
    expect(await code(verifyHeaderSignature(parsePackageHead(flipped), [], { allowUnsigned: true }))).toBe(
      'digest.header-mismatch',
    );
    const noDigests = rebuildPackage(flipped, parsePackageHead(flipped), {
      signature: (e) => e.filter((x) => x.tag !== SigTag.SHA256HEADER && x.tag !== SigTag.SHA1HEADER),
    });
    expect(await code(verifyHeaderSignature(parsePackageHead(noDigests), [pubA]))).toBe('signature.bad');
  });

  it('refuses a valid signature taken from another package', async () => {
    const head = parsePackageHead(files.a);
    const foreign = sigEntry(parsePackageHead(files.other), SigTag.RSAHEADER);
    const swapped = rebuildPackage(files.a, head, {
      signature: (e) => e.map((x) => (x.tag === SigTag.RSAHEADER ? foreign : x)),
    });
    expect(await code(verifyHeaderSignature(parsePackageHead(swapped), [pubA]))).toBe('signature.bad');
  });

  it("accepts another signer's signature over the same header only with that signer's key", async () => {
    const head = parsePackageHead(files.a);
    const fromB = sigEntry(parsePackageHead(files.b), SigTag.RSAHEADER);
    const resigned = parsePackageHead(
      rebuildPackage(files.a, head, {
        signature: (e) => e.map((x) => (x.tag === SigTag.RSAHEADER ? fromB : x)),
      }),
    );
    expect(await code(verifyHeaderSignature(resigned, [pubA]))).toBe('signature.untrusted-key');
    expect((await verifyHeaderSignature(resigned, [pubA, pubB])).fingerprint).toBe(keyB.fingerprint);
  });

  it('requires every header signature present to verify', async () => {
    const head = parsePackageHead(files.a);
    const fromB = sigEntry(parsePackageHead(files.b), SigTag.RSAHEADER);
    const two = parsePackageHead(
      rebuildPackage(files.a, head, {
        signature: (e) => [...e, { ...fromB, tag: SigTag.DSAHEADER }].sort((x, y) => x.tag - y.tag),
      }),
    );
    expect(await code(verifyHeaderSignature(two, [pubA]))).toBe('signature.untrusted-key');
    expect((await verifyHeaderSignature(two, [pubA, pubB])).signed).toBe(true);
  });

  it("reads rpm 6's OPENPGP tag (278): base64 signatures in a string array", async () => {
    const head = parsePackageHead(files.a);
    const rsa = sigEntry(head, SigTag.RSAHEADER);
    const b64 = Buffer.from(rsa.data).toString('base64');
    const asOpenPgp = (text: string) =>
      parsePackageHead(
        rebuildPackage(files.a, head, {
          signature: (e) =>
            [
              ...e.filter((x) => x.tag !== SigTag.RSAHEADER),
              {
                tag: SigTag.OPENPGP,
                type: RpmType.STRING_ARRAY,
                count: 1,
                data: new TextEncoder().encode(text + '\0'),
              },
            ].sort((x, y) => x.tag - y.tag),
        }),
      );
    expect(await verifyHeaderSignature(asOpenPgp(b64), [pubA])).toMatchObject({
      signed: true,
      keyId: keyA.keyId,
    });
    expect(await code(verifyHeaderSignature(asOpenPgp('not base64!'), [pubA]))).toBe('signature.bad');
    expect(await code(verifyHeaderSignature(asOpenPgp(b64), [pubB]))).toBe('signature.untrusted-key');
  });

  it('refuses signature bytes that are not one binary-document OpenPGP signature', async () => {
    const head = parsePackageHead(files.a);
    const garbage = (data: Uint8Array) =>
      parsePackageHead(
        rebuildPackage(files.a, head, {
          signature: (e) =>
            e.map((x) => (x.tag === SigTag.RSAHEADER ? { ...x, count: data.length, data } : x)),
        }),
      );
    const rsa = sigEntry(head, SigTag.RSAHEADER).data;
    const doubled = new Uint8Array(rsa.length * 2);
    doubled.set(rsa);
    doubled.set(rsa, rsa.length);
    expect(await code(verifyHeaderSignature(garbage(new Uint8Array(16).fill(0x42)), [pubA]))).toBe(
      'signature.bad',
    );
    expect(await code(verifyHeaderSignature(garbage(doubled), [pubA]))).toBe('signature.bad');
    expect(await code(verifyHeaderSignature(garbage(pubA.write()), [pubA]))).toBe('signature.bad');
  });
});
