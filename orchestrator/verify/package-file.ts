/**
 * Verifies an RPM package file the way the incumbent does (`rpmkeys --checksig` with
 * _pkgverify_level all and _pkgverify_flags 0, see rpm's lib/rpmchecksig.c and lib/rpmvs.c),
 * streaming it once and never decompressing the payload:
 *
 * - header range: SHA256HEADER / SHA1HEADER digests and RSAHEADER / DSAHEADER / OPENPGP signatures
 *   in the signature header, over the main header's bytes;
 * - payload range: PAYLOADDIGEST (in the signed main header) over every byte after the main
 *   header to the end of the file, so trailing data is a digest mismatch, as in rpm;
 * - header+payload range (legacy, rpmsign --rpmv3): MD5 (1004) and PGP (1002) / GPG (1005)
 *   signatures over the main header and everything after it.
 *
 * Every digest and signature present must verify (a PAYLOADDIGESTALT match stands in for a
 * PAYLOADDIGEST mismatch, as rpm treats them as alternatives), and together they must cover both
 * ranges: with digests, and unless nogpgcheck, with signatures (a payload digest inside a
 * signature-verified header counts as a payload signature). SIZE (1000), PAYLOADSIZE (1007) and
 * LONGSIZE are not checked, as rpm does not check them either.
 *
 * tmpl is stricter than rpm in a few places, on purpose: a region must span each header, duplicate
 * tags and non-zero signature padding are refused, signature tags in the main header are refused
 * (rpm refuses them only when installing), and the header must yield valid PackageInfo.
 *
 * About 300 lines on purpose: rpm's checks, in rpm's order, and the coverage rule that decides
 * over all of them, stay in one file so that each can be read against lib/rpmvs.c.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type * as openpgp from 'openpgp';
import { ByteReader } from '../../protocol/byte-reader.ts';
import { TmplError, VerificationError, type ErrorCode } from '../../protocol/errors.ts';
import { packageInfo } from '../../protocol/rpm-info.ts';
import { readPackageHead, type PackageHead } from '../../protocol/rpm-package.ts';
import {
  checkNoSignatureTagsInMainHeader,
  findSigningKey,
  headerSignatureBlobs,
  isRpmHex,
  parseRpmSignature,
  verifyHeaderDigests,
  verifyRpmSignature,
  type RpmOpenPgpSignature,
} from '../../protocol/rpm-signature.ts';
import { RpmType, SigTag, Tag } from '../../protocol/rpm-tags.ts';
import type { PackageInfo } from '../../protocol/rpm-types.ts';

/** Read size for package files. */
const READ_CHUNK_BYTES = 1024 * 1024;

export interface VerifyPackageOptions {
  /** Check digests only, no signatures (qvm-template --nogpgcheck). */
  readonly nogpgcheck?: boolean;
}

export interface PackageVerdict {
  readonly path: string;
  readonly ok: boolean;
  /** Whether signatures were part of the check (false with nogpgcheck). */
  readonly signaturesChecked: boolean;
  /** Set when ok is false: the stable code and a reason. */
  readonly error?: { readonly code: ErrorCode; readonly message: string };
  /** Issuer key id and primary-key fingerprint of the verified header signature. */
  readonly keyId?: string;
  readonly fingerprint?: string;
  /** The verified main header's metadata, when ok. */
  readonly info?: PackageInfo;
  /** Offset of the first payload byte, when the head parsed. */
  readonly payloadOffset?: number;
}

interface LegacySignature {
  readonly what: string;
  readonly sig: RpmOpenPgpSignature;
  readonly key: openpgp.PublicKey;
}

function legacyMd5(head: PackageHead): string | undefined {
  const e = head.signature.entry(SigTag.MD5);
  if (e === undefined) return undefined;
  if (e.type !== RpmType.BIN || e.count !== 16) {
    throw new VerificationError('digest.malformed', 'MD5 tag is not 16 binary bytes');
  }
  return Buffer.from(head.signature.data(e)).toString('hex');
}

function payloadDigests(head: PackageHead, tag: number): string[] {
  const e = head.header.entry(tag);
  if (e === undefined) return [];
  if (e.type !== RpmType.STRING_ARRAY) {
    throw new VerificationError('digest.malformed', `main header tag ${tag} is not a string array`);
  }
  const values = head.header.stringArray(tag) ?? [];
  for (const v of values) {
    if (!isRpmHex(v)) throw new VerificationError('digest.malformed', `main header tag ${tag}: invalid hex`);
  }
  return values.map((v) => v.toLowerCase());
}

async function legacySignatures(
  head: PackageHead,
  keys: readonly openpgp.PublicKey[],
): Promise<LegacySignature[]> {
  const out: LegacySignature[] = [];
  for (const [tag, what] of [
    [SigTag.PGP, 'PGP'],
    [SigTag.GPG, 'GPG'],
  ] as const) {
    const e = head.signature.entry(tag);
    if (e === undefined) continue;
    if (e.type !== RpmType.BIN) throw new VerificationError('signature.bad', `${what}: tag is not BIN`);
    const sig = await parseRpmSignature(head.signature.data(e), what);
    out.push({ what, sig, key: findSigningKey(sig, keys, what) });
  }
  return out;
}

/**
 * The header signatures (RSAHEADER, DSAHEADER, OPENPGP), each checked against our keyring over
 * the header bytes; returns the first signer, or undefined when the header carries none.
 */
async function verifyHeaderSignatures(
  head: PackageHead,
  keys: readonly openpgp.PublicKey[],
): Promise<{ keyId: string; fingerprint: string } | undefined> {
  let signer: { keyId: string; fingerprint: string } | undefined;
  for (const { what, bytes } of headerSignatureBlobs(head.signature)) {
    const sig = await parseRpmSignature(bytes, what);
    const key = findSigningKey(sig, keys, what);
    await verifyRpmSignature(sig, key, head.headerBytes, what);
    signer ??= { keyId: sig.keyId, fingerprint: key.getFingerprint().toUpperCase() };
  }
  return signer;
}

/**
 * The legacy (PGP, GPG) signatures over header+payload, checked while the payload streams: one
 * stream pulls the header, then the payload chunks on demand (highWaterMark 0), teed once per
 * further signature (a tee holds what one check has read and the other not yet).
 */
async function verifyLegacySignatures(
  legacy: readonly LegacySignature[],
  headerBytes: Uint8Array,
  chunks: AsyncGenerator<Uint8Array>,
): Promise<PromiseSettledResult<void>[]> {
  if (legacy.length === 0) return [];
  let headerSent = false;
  let stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(headerBytes);
          return;
        }
        const r = await chunks.next();
        if (r.done === true) controller.close();
        else controller.enqueue(r.value);
      },
    },
    { highWaterMark: 0 },
  );
  const streams: ReadableStream<Uint8Array>[] = [];
  for (let i = 0; i < legacy.length; i++) {
    if (i === legacy.length - 1) streams.push(stream);
    else {
      const [a, b] = stream.tee();
      streams.push(a);
      stream = b;
    }
  }
  return Promise.allSettled(legacy.map((l, i) => verifyRpmSignature(l.sig, l.key, streams[i]!, l.what)));
}

/**
 * Whether a payload digest was checked: every PAYLOADDIGEST must match, or a PAYLOADDIGESTALT
 * (of the uncompressed payload: it can only match an uncompressed one); false when there is none.
 */
function checkPayloadDigest(
  expected: readonly string[],
  alternatives: readonly string[],
  actual: string,
): boolean {
  if (expected.length === 0 && alternatives.length === 0) return false;
  const allMatch = expected.length > 0 && expected.every((d) => d === actual);
  const altMatch = alternatives.some((d) => d === actual);
  if (!allMatch && !altMatch) {
    throw new VerificationError(
      'digest.payload-mismatch',
      `payload sha256 ${actual} does not match PAYLOADDIGEST`,
    );
  }
  return true;
}

/** The legacy MD5 (1004) over header+payload must match the signature header's. */
function checkMd5(md5: Hash, expected: string | undefined): void {
  const actual = md5.digest('hex');
  if (actual !== expected) {
    throw new VerificationError(
      'digest.md5-mismatch',
      `header+payload MD5 ${actual} does not match ${expected}`,
    );
  }
}

/** Verifies a package read from a byte stream. `path` only labels the verdict. */
export async function verifyPackageStream(
  path: string,
  source: AsyncIterable<Uint8Array>,
  keys: readonly openpgp.PublicKey[],
  opts: VerifyPackageOptions = {},
): Promise<PackageVerdict> {
  const signaturesChecked = opts.nogpgcheck !== true;
  let payloadOffset: number | undefined;
  try {
    const reader = new ByteReader(source);
    const head = await readPackageHead(reader);
    payloadOffset = head.payloadOffset;
    checkNoSignatureTagsInMainHeader(head);

    // Header range.
    const headerDigest = verifyHeaderDigests(head);
    let signer = signaturesChecked ? await verifyHeaderSignatures(head, keys) : undefined;
    const headerSigned = signer !== undefined;
    const legacy = signaturesChecked ? await legacySignatures(head, keys) : [];
    const md5Expected = legacyMd5(head);
    const payloadExpected = payloadDigests(head, Tag.PAYLOADDIGEST);
    const payloadAltExpected = payloadDigests(head, Tag.PAYLOADDIGESTALT);

    // One pass over the payload: SHA-256 of the payload, MD5 and legacy signatures of header+payload.
    const sha256 = createHash('sha256');
    const md5 = md5Expected !== undefined ? createHash('md5').update(head.headerBytes) : undefined;
    const chunks = (async function* () {
      for await (const chunk of reader.rest()) {
        sha256.update(chunk);
        md5?.update(chunk);
        yield chunk;
      }
    })();
    const legacyResults = await verifyLegacySignatures(legacy, head.headerBytes, chunks);
    // Finish the digests whatever the signature checks consumed.
    for (;;) {
      const r = await chunks.next();
      if (r.done === true) break;
    }

    const payloadActual = sha256.digest('hex');
    const payloadDigest = checkPayloadDigest(payloadExpected, payloadAltExpected, payloadActual);
    if (md5 !== undefined) checkMd5(md5, md5Expected);
    for (const r of legacyResults) {
      if (r.status === 'rejected') throw r.reason;
    }
    const legacySigned = legacy.length > 0;

    // Coverage, as rpm's vfylevel "all" requires.
    const digestHeader = headerDigest || md5 !== undefined;
    const digestPayload = payloadDigest || md5 !== undefined;
    if (!digestHeader || !digestPayload) {
      throw new VerificationError(
        'digest.missing',
        `no digest covers the ${digestHeader ? 'payload' : 'header'}`,
      );
    }
    if (signaturesChecked) {
      const sigHeader = headerSigned || legacySigned;
      const sigPayload = (headerSigned && payloadDigest) || legacySigned;
      if (!sigHeader) throw new VerificationError('signature.missing', 'the package has no signature');
      if (!sigPayload) throw new VerificationError('signature.missing', 'no signature covers the payload');
      if (!headerSigned && legacy[0] !== undefined) {
        signer = { keyId: legacy[0].sig.keyId, fingerprint: legacy[0].key.getFingerprint().toUpperCase() };
      }
    }
    const info = packageInfo(head.header);
    return { path, ok: true, signaturesChecked, ...signer, info, payloadOffset };
  } catch (error) {
    if (error instanceof TmplError) {
      return {
        path,
        ok: false,
        signaturesChecked,
        error: { code: error.code, message: error.message },
        payloadOffset,
      };
    }
    throw error;
  }
}

/** Verifies a package file, streaming it once. */
export async function verifyPackageFile(
  path: string,
  keys: readonly openpgp.PublicKey[],
  opts: VerifyPackageOptions = {},
): Promise<PackageVerdict> {
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  try {
    return await verifyPackageStream(path, stream as AsyncIterable<Uint8Array>, keys, opts);
  } catch (error) {
    // I/O errors (missing file, permission) become a verdict too.
    if (
      error instanceof Error &&
      'code' in error &&
      typeof error.code === 'string' &&
      !(error instanceof TmplError)
    ) {
      return {
        path,
        ok: false,
        signaturesChecked: opts.nogpgcheck !== true,
        error: { code: 'io.read', message: error.message },
      };
    }
    throw error;
  } finally {
    stream.destroy();
  }
}
