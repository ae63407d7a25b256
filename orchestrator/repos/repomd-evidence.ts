/**
 * The repomd.xml a worker says it listed a repository from, checked on the trusted side: its
 * detached signature with the repository's own keys (the orchestrator's keyring, not the
 * worker's word), the signature's creation time, and the revision and data timestamps read from
 * the signed bytes.
 *
 * The orchestrator parses no XML. It reads two things from bytes the repository's key signed,
 * with a deliberately narrow extraction that refuses anything ambiguous:
 * - exactly one `<revision>DIGITS</revision>` (createrepo_c writes the Unix time, or
 *   `--revision N`), nothing between the tags, no other element named revision;
 * - every `<timestamp>DIGITS</timestamp>` (one per data entry), of which the newest is kept;
 * - no comment, CDATA section, DOCTYPE or processing instruction other than the XML declaration,
 *   so that no occurrence of those tags can be hidden from, or invented for, a real parser.
 */
import * as openpgp from 'openpgp';
import {
  MAX_REPOMD_EVIDENCE_BYTES,
  MAX_REPOMD_REVISION_DIGITS,
  MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH,
} from '../../protocol/limits.ts';
import type { RepomdEvidence } from '../../protocol/messages.ts';
import { OrchestratorError } from '../errors.ts';

/** Data entries (and so timestamps) in one repomd.xml, as the worker's parser allows. */
export const MAX_REPOMD_TIMESTAMPS = 128;
/** Digits of a data timestamp: 15 stay below 2^53. */
const MAX_TIMESTAMP_DIGITS = 15;

/** What tmpl compares between two versions of a repository's metadata. */
export interface RepomdVersion {
  /** The <revision>, a decimal number. */
  readonly revision: bigint;
  /** The newest data <timestamp>, Unix seconds; undefined when there is none. */
  readonly timestamp: number | undefined;
}

export interface VerifiedRepomd extends RepomdVersion {
  /** Creation time of the newest valid signature by a trusted key, Unix seconds. */
  readonly signedAt: number;
}

function revisionError(message: string): OrchestratorError {
  return new OrchestratorError('metadata.revision', `repomd.xml: ${message}`);
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

/**
 * Reads the revision and the newest data timestamp from repomd.xml bytes. Throws
 * OrchestratorError 'metadata.revision' when they cannot be read unambiguously.
 */
export function extractRepomdVersion(bytes: Uint8Array): RepomdVersion {
  if (bytes.length > MAX_REPOMD_EVIDENCE_BYTES)
    throw revisionError(`more than ${MAX_REPOMD_EVIDENCE_BYTES} bytes`);
  // Latin-1 maps every byte to one character: the tags are ASCII, and nothing else is read.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  for (const construct of ['<!--', '<![CDATA[', '<!DOCTYPE', '<!ENTITY']) {
    if (text.includes(construct)) throw revisionError(`holds ${construct}, which tmpl does not read`);
  }
  const instructions = count(text, '<?');
  if (instructions > 1 || (instructions === 1 && !text.startsWith('<?xml ')))
    throw revisionError('holds a processing instruction other than the XML declaration');

  if (count(text, '<revision') !== 1 || count(text, ':revision') !== 0)
    throw revisionError('does not hold exactly one revision element');
  const revision = new RegExp(`<revision>([0-9]{1,${MAX_REPOMD_REVISION_DIGITS}})</revision>`).exec(text);
  if (revision === null)
    throw revisionError(
      `the revision is not a decimal number of at most ${MAX_REPOMD_REVISION_DIGITS} digits`,
    );

  const timestampTags = count(text, '<timestamp');
  if (count(text, ':timestamp') !== 0) throw revisionError('holds a timestamp with a namespace prefix');
  if (timestampTags > MAX_REPOMD_TIMESTAMPS)
    throw revisionError(`more than ${MAX_REPOMD_TIMESTAMPS} timestamps`);
  const pattern = new RegExp(`<timestamp>([0-9]{1,${MAX_TIMESTAMP_DIGITS}})</timestamp>`, 'g');
  let timestamp: number | undefined;
  let found = 0;
  for (const m of text.matchAll(pattern)) {
    found++;
    const value = Number(m[1]);
    if (timestamp === undefined || value > timestamp) timestamp = value;
  }
  if (found !== timestampTags) throw revisionError('a timestamp is not a decimal number');
  return { revision: BigInt(revision[1]!), timestamp };
}

/** The bytes of base64 text the schema already checked to be canonical and bounded. */
function decodeEvidenceBytes(evidence: RepomdEvidence): Uint8Array {
  const bytes = Buffer.from(evidence.repomd, 'base64');
  if (bytes.toString('base64') !== evidence.repomd || bytes.length > MAX_REPOMD_EVIDENCE_BYTES) {
    throw new OrchestratorError(
      'metadata.evidence',
      `repository ${evidence.repoid}: repomd.xml is not canonical base64`,
    );
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Verifies the detached signature over the repomd.xml bytes with `keys` (the repository's keys
 * as the orchestrator loaded them) and returns the newest creation time among the signatures
 * that verify. openpgp.js refuses signatures made in the future, by expired or revoked keys.
 */
export async function verifyRepomdSignatureTime(
  repoid: string,
  bytes: Uint8Array,
  armored: string,
  keys: readonly openpgp.PublicKey[],
): Promise<number> {
  const fail = (message: string, cause?: unknown): OrchestratorError =>
    new OrchestratorError('metadata.signature', `repository ${repoid}: ${message}`, { cause });
  if (keys.length === 0) throw fail('repo_gpgcheck is on but tmpl has no key for it');
  if (armored.length > MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH) throw fail('repomd.xml.asc is too long');
  let signature: openpgp.Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: armored });
  } catch (cause) {
    throw fail('repomd.xml.asc is not an armoured OpenPGP signature', cause);
  }
  let result: openpgp.VerifyMessageResult<Uint8Array>;
  try {
    result = await openpgp.verify({
      message: await openpgp.createMessage({ binary: bytes }),
      signature,
      verificationKeys: [...keys],
      format: 'binary',
      expectSigned: false,
    });
  } catch (cause) {
    throw fail('repomd.xml.asc cannot be checked', cause);
  }
  let newest: number | undefined;
  for (const sig of result.signatures) {
    try {
      if (!(await sig.verified)) continue;
      const created = (await sig.signature).packets[0]?.created;
      if (!(created instanceof Date)) continue;
      const seconds = Math.floor(created.getTime() / 1000);
      if (newest === undefined || seconds > newest) newest = seconds;
    } catch {
      // Not made by one of the keys, or does not verify: another signature may.
    }
  }
  if (newest === undefined) throw fail('repomd.xml is not validly signed by a key of this repository');
  return newest;
}

/**
 * Checks one repository's evidence. `signed` says whether the repository has repo_gpgcheck: then
 * the signature must verify with `keys`; without it there is nothing tmpl can trust in the bytes,
 * and undefined is returned.
 */
export async function verifyRepomdEvidence(
  evidence: RepomdEvidence,
  signed: boolean,
  keys: readonly openpgp.PublicKey[],
): Promise<VerifiedRepomd | undefined> {
  const bytes = decodeEvidenceBytes(evidence);
  if (!signed) {
    if (evidence.signature !== null)
      throw new OrchestratorError(
        'metadata.evidence',
        `repository ${evidence.repoid}: a signature for a repository without repo_gpgcheck`,
      );
    return undefined;
  }
  if (evidence.signature === null)
    throw new OrchestratorError(
      'metadata.signature',
      `repository ${evidence.repoid}: repo_gpgcheck is on but the worker sent no signature`,
    );
  const signedAt = await verifyRepomdSignatureTime(evidence.repoid, bytes, evidence.signature, keys);
  // Only signed bytes are read.
  return { ...extractRepomdVersion(bytes), signedAt };
}
