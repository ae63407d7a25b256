/**
 * The orchestrator's check of a package head sent by the worker (untrusted: from the worker).
 *
 * Before the header signature has verified, only the lead and the signature header are parsed:
 * the main header's bytes are located by its 16-byte preamble and verified as opaque bytes. Only
 * then is the main header parsed, and the full check (header digests, no signature tags in the
 * main header) runs on the parsed head.
 */
import type { PublicKey } from 'openpgp';
import { ParseError, VerificationError } from '../../protocol/errors.ts';
import { LEAD_SIZE, parseLead } from '../../protocol/rpm-lead.ts';
import {
  HEADER_PREAMBLE_SIZE,
  MAIN_HEADER,
  parseHeader,
  parseHeaderPreamble,
  SIGNATURE_HEADER,
  type RpmHeader,
} from '../../protocol/rpm-header.ts';
import { parsePackageHead, signaturePadding, type PackageHead } from '../../protocol/rpm-package.ts';
import {
  findSigningKey,
  headerSignatureBlobs,
  parseRpmSignature,
  verifyHeaderSignature,
  verifyRpmSignature,
} from '../../protocol/rpm-signature.ts';

export interface VerifiedPackageHead {
  readonly head: PackageHead;
  /** Fingerprint of the key that signed the header; undefined with nogpgcheck. */
  readonly signer: string | undefined;
}

/** Parses lead and signature header; locates the main header's bytes by its preamble alone. */
function locate(bytes: Uint8Array): { signature: RpmHeader; headerBytes: Uint8Array } {
  parseLead(bytes.subarray(0, LEAD_SIZE), 0);
  const sigStart = LEAD_SIZE;
  const sigPreamble = parseHeaderPreamble(
    bytes.subarray(sigStart, sigStart + HEADER_PREAMBLE_SIZE),
    sigStart,
    SIGNATURE_HEADER,
  );
  const signature = parseHeader(
    bytes.subarray(sigStart, sigStart + sigPreamble.totalLength),
    sigStart,
    SIGNATURE_HEADER,
  );
  const mainStart = sigStart + sigPreamble.totalLength + signaturePadding(sigPreamble.totalLength);
  const mainPreamble = parseHeaderPreamble(
    bytes.subarray(mainStart, mainStart + HEADER_PREAMBLE_SIZE),
    mainStart,
    MAIN_HEADER,
  );
  const end = mainStart + mainPreamble.totalLength;
  if (end > bytes.length)
    throw new ParseError('rpm.truncated', 'HEAD frame ends inside the main header', bytes.length);
  if (end !== bytes.length)
    throw new ParseError('rpm.head-trailing', 'HEAD frame has bytes after the main header', end);
  return { signature, headerBytes: bytes.subarray(mainStart, end) };
}

export async function verifyHead(
  bytes: Uint8Array,
  keys: readonly PublicKey[],
  options: { nogpgcheck: boolean },
): Promise<VerifiedPackageHead> {
  const { signature, headerBytes } = locate(bytes);
  let signer: string | undefined;
  if (!options.nogpgcheck) {
    const blobs = headerSignatureBlobs(signature);
    if (blobs.length === 0)
      throw new VerificationError('signature.missing', 'the package has no header signature');
    for (const { what, bytes: blob } of blobs) {
      const sig = await parseRpmSignature(blob, what);
      const key = findSigningKey(sig, keys, what);
      await verifyRpmSignature(sig, key, headerBytes, what);
      signer ??= key.getFingerprint().toUpperCase();
    }
  }
  // The signed bytes verified (or checking is off): now parse everything, then the full check.
  const head = parsePackageHead(bytes);
  await verifyHeaderSignature(head, keys, { allowUnsigned: options.nogpgcheck });
  return { head, signer };
}
