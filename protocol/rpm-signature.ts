/**
 * Header-only signature verification, as `rpmkeys --checksig` does it (rpm's lib/rpmvs.c):
 * the header digests and OpenPGP signatures in the SIGNATURE header cover exactly the bytes of
 * the main header (magic to end of data). Signature or digest tags found in the main header never
 * count (CVE-2021-20271 class): tmpl refuses a main header that carries one, as rpm's
 * headerMergeLegacySigs does when it reads a package. Because the main header must hold a single
 * immutable region spanning all of it (checked by the parser), the signed bytes are the whole
 * main header: nothing outside the region can add or override a tag.
 */
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { VerificationError } from './errors.ts';
import type { RpmHeader } from './rpm-header.ts';
import type { PackageHead } from './rpm-package.ts';
import { RpmType, SIGNATURE_ONLY_MAIN_TAGS, SigTag } from './rpm-tags.ts';

/** Largest OpenPGP signature packet tmpl parses (an RSA-16384 signature is ~2 KiB). */
export const MAX_OPENPGP_SIGNATURE_BYTES = 16 * 1024;

export interface HeaderSignatureResult {
  /** A header signature from one of the keys verified (false only with allowUnsigned). */
  readonly signed: boolean;
  /** Issuer key id of the verified signature, 16 uppercase hex digits. */
  readonly keyId?: string;
  /** Fingerprint of the primary key that verified it, uppercase hex. */
  readonly fingerprint?: string;
  /** At least one header digest (SHA256HEADER, SHA1HEADER, SHA3_256HEADER) was present and matched. */
  readonly headerDigest: boolean;
}

export interface VerifyHeaderOptions {
  /** Skip signatures entirely (qvm-template --nogpgcheck); digests are still checked. */
  readonly allowUnsigned?: boolean;
}

/** Header digests rpm knows: tag, hash, and the size rpm requires of the hex string with its NUL. */
const HEADER_DIGESTS: readonly { tag: number; hash: string; size: number }[] = [
  { tag: SigTag.SHA256HEADER, hash: 'sha256', size: 65 },
  { tag: SigTag.SHA1HEADER, hash: 'sha1', size: 41 },
  { tag: SigTag.SHA3_256HEADER, hash: 'sha3-256', size: 65 },
];

/** rpm's validHex: even length, at least SHA-1 long, hex digits only. */
export function isRpmHex(s: string): boolean {
  return s.length % 2 === 0 && s.length >= 40 && /^[0-9a-fA-F]+$/.test(s);
}

function hexDigestTag(sig: RpmHeader, tag: number, size: number): string | undefined {
  const e = sig.entry(tag);
  if (e === undefined) return undefined;
  if (e.type !== RpmType.STRING || e.count !== 1 || e.length !== size) {
    throw new VerificationError(
      'digest.malformed',
      `signature tag ${tag}: not a ${size - 1}-digit hex string`,
    );
  }
  const value = sig.string(tag) ?? '';
  if (!isRpmHex(value)) throw new VerificationError('digest.malformed', `signature tag ${tag}: invalid hex`);
  return value.toLowerCase();
}

/** Checks every header digest present; returns whether there was one. */
export function verifyHeaderDigests(head: PackageHead): boolean {
  let present = false;
  for (const { tag, hash, size } of HEADER_DIGESTS) {
    const expected = hexDigestTag(head.signature, tag, size);
    if (expected === undefined) continue;
    const actual = createHash(hash).update(head.headerBytes).digest('hex');
    if (actual !== expected) {
      throw new VerificationError(
        'digest.header-mismatch',
        `header ${hash} digest mismatch: expected ${expected}, got ${actual}`,
      );
    }
    present = true;
  }
  return present;
}

/** Refuses a main header carrying signature-header tags. */
export function checkNoSignatureTagsInMainHeader(head: PackageHead): void {
  for (const e of head.header.entries) {
    if (SIGNATURE_ONLY_MAIN_TAGS.has(e.tag)) {
      throw new VerificationError('signature.in-main-header', `main header carries signature tag ${e.tag}`);
    }
  }
}

export interface RpmOpenPgpSignature {
  readonly signature: openpgp.Signature;
  readonly packet: openpgp.SignaturePacket;
  /** Issuer key id, 16 uppercase hex digits. */
  readonly keyId: string;
}

/** Parses one OpenPGP signature packet as rpm stores it; refuses anything but a binary-document signature. */
export async function parseRpmSignature(bytes: Uint8Array, what: string): Promise<RpmOpenPgpSignature> {
  if (bytes.length > MAX_OPENPGP_SIGNATURE_BYTES) {
    throw new VerificationError('signature.bad', `${what}: ${bytes.length}-byte signature is too large`);
  }
  let signature: openpgp.Signature;
  try {
    signature = await openpgp.readSignature({ binarySignature: bytes });
  } catch (cause) {
    throw new VerificationError('signature.bad', `${what}: not an OpenPGP signature`, { cause });
  }
  const packets = [...signature.packets];
  const packet = packets[0];
  if (packets.length !== 1 || packet === undefined) {
    throw new VerificationError('signature.bad', `${what}: expected exactly one signature packet`);
  }
  if (packet.signatureType !== openpgp.enums.signature.binary) {
    throw new VerificationError('signature.bad', `${what}: not a binary-document signature`);
  }
  return { signature, packet, keyId: packet.issuerKeyID.toHex().toUpperCase() };
}

/** The key in `keys` that holds the signature's issuer key, or 'signature.untrusted-key'. */
export function findSigningKey(
  sig: RpmOpenPgpSignature,
  keys: readonly openpgp.PublicKey[],
  what: string,
): openpgp.PublicKey {
  const key = keys.find((k) => k.getKeys(sig.packet.issuerKeyID).length > 0);
  if (key === undefined) {
    throw new VerificationError(
      'signature.untrusted-key',
      `${what}: signed by key ${sig.keyId}, which is not in the keyring`,
    );
  }
  return key;
}

/**
 * Verifies a signature over `data` (bytes or a stream, read to its end). Key validity is judged
 * at the signature's creation time, as rpm does not reject old signatures from expired keys.
 */
export async function verifyRpmSignature(
  sig: RpmOpenPgpSignature,
  key: openpgp.PublicKey,
  data: Uint8Array | ReadableStream<Uint8Array>,
  what: string,
): Promise<void> {
  try {
    const message = await openpgp.createMessage({ binary: data });
    const result = await openpgp.verify({
      message,
      signature: sig.signature,
      verificationKeys: key,
      format: 'binary',
      date: sig.packet.created ?? undefined,
    });
    const out = result.data as Uint8Array | ReadableStream<Uint8Array>;
    if (out instanceof ReadableStream) {
      const r = out.getReader();
      while (!(await r.read()).done) {
        // Drain: openpgp hashes the data as it flows through.
      }
    }
    const [first] = result.signatures;
    if (first === undefined) throw new Error('no signature result');
    await first.verified;
  } catch (cause) {
    throw new VerificationError('signature.bad', `${what}: signature does not verify with key ${sig.keyId}`, {
      cause,
    });
  }
}

/** The header-only OpenPGP signatures in the signature header, with a label for messages. */
export function headerSignatureBlobs(sig: RpmHeader): { what: string; bytes: Uint8Array }[] {
  const out: { what: string; bytes: Uint8Array }[] = [];
  for (const [tag, name] of [
    [SigTag.RSAHEADER, 'RSAHEADER'],
    [SigTag.DSAHEADER, 'DSAHEADER'],
  ] as const) {
    const e = sig.entry(tag);
    if (e === undefined) continue;
    if (e.type !== RpmType.BIN)
      throw new VerificationError('signature.bad', `${name}: tag has type ${e.type}, not BIN`);
    out.push({ what: name, bytes: sig.data(e) });
  }
  const openpgpTag = sig.entry(SigTag.OPENPGP);
  if (openpgpTag !== undefined) {
    if (openpgpTag.type !== RpmType.STRING_ARRAY) {
      throw new VerificationError(
        'signature.bad',
        `OPENPGP: tag has type ${openpgpTag.type}, not STRING_ARRAY`,
      );
    }
    (sig.stringArray(SigTag.OPENPGP) ?? []).forEach((b64, i) => {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
        throw new VerificationError('signature.bad', `OPENPGP[${i}]: invalid base64`);
      }
      out.push({ what: `OPENPGP[${i}]`, bytes: new Uint8Array(Buffer.from(b64, 'base64')) });
    });
  }
  return out;
}

/**
 * Verifies the header digests and the header-only signatures of a package head. Every header
 * signature present must verify with a key in `keys` (rpm fails a package on any bad or unknown
 * signature); with none present, 'signature.missing' unless allowUnsigned.
 */
export async function verifyHeaderSignature(
  head: PackageHead,
  keys: readonly openpgp.PublicKey[],
  opts: VerifyHeaderOptions = {},
): Promise<HeaderSignatureResult> {
  checkNoSignatureTagsInMainHeader(head);
  const headerDigest = verifyHeaderDigests(head);
  if (opts.allowUnsigned === true) return { signed: false, headerDigest };
  const blobs = headerSignatureBlobs(head.signature);
  if (blobs.length === 0)
    throw new VerificationError('signature.missing', 'the package has no header signature');
  let first: { keyId: string; fingerprint: string } | undefined;
  for (const { what, bytes } of blobs) {
    const sig = await parseRpmSignature(bytes, what);
    const key = findSigningKey(sig, keys, what);
    await verifyRpmSignature(sig, key, head.headerBytes, what);
    first ??= { keyId: sig.keyId, fingerprint: key.getFingerprint().toUpperCase() };
  }
  return { signed: true, ...first, headerDigest };
}
