/**
 * repomd.xml, the index of an rpm-md repository (createrepo_c's repomd.xml; dnf/librepo read
 * it first, check its detached signature when repo_gpgcheck is on, then fetch the data files it
 * lists and check each against the checksum it declares).
 *
 *   <repomd xmlns="http://linux.duke.edu/metadata/repo">
 *     <revision>N</revision>
 *     <data type="primary">
 *       <checksum type="sha256">…</checksum> <open-checksum type="sha256">…</open-checksum>
 *       <location href="repodata/…-primary.xml.gz"/>
 *       <timestamp>…</timestamp> <size>…</size> <open-size>…</open-size>
 *     </data> …
 *   </repomd>
 */
import * as openpgp from 'openpgp';
import { ParseError, VerificationError } from '../protocol/index.ts';
import { checkHref } from './metadata-href.ts';
import { parseXmlTree, type XmlElement } from './xml.ts';
import type { RepomdErrorCode, RepomdSignatureErrorCode } from '../protocol/error-codes.ts';
export type { RepomdErrorCode, RepomdSignatureErrorCode };

/** Largest repomd.xml accepted; Fedora's, with a dozen data types, is under 10 KiB. */
export const MAX_REPOMD_BYTES = 1024 * 1024;
/** Most elements in a repomd.xml. */
export const MAX_REPOMD_ELEMENTS = 4096;
/** Most data entries. */
export const MAX_REPOMD_DATA_ENTRIES = 128;
/** Longest armoured detached signature accepted (one or a few signatures). */
export const MAX_REPOMD_SIGNATURE_LENGTH = 64 * 1024;
/** Longest text of a numeric field; 16 decimal digits stay below 2^53. */
const MAX_NUMBER_DIGITS = 15;

/** Digests accepted for metadata; rpm-md also allows sha1 ("sha") and md5, which we refuse. */
export const METADATA_CHECKSUM_TYPES = ['sha256', 'sha384', 'sha512'] as const;
export type MetadataChecksumType = (typeof METADATA_CHECKSUM_TYPES)[number];
const CHECKSUM_HEX_LENGTH: Readonly<Record<MetadataChecksumType, number>> = {
  sha256: 64,
  sha384: 96,
  sha512: 128,
};

export interface MetadataChecksum {
  readonly type: MetadataChecksumType;
  /** Lowercase hex. */
  readonly value: string;
}

export interface RepomdData {
  /** e.g. primary, filelists, other, primary_db, primary_zck, updateinfo, group. */
  readonly type: string;
  /** Relative to the repository base URL, checked against traversal. */
  readonly locationHref: string;
  readonly checksum: MetadataChecksum;
  readonly openChecksum?: MetadataChecksum;
  readonly size?: number;
  readonly openSize?: number;
  readonly timestamp?: number;
}

export interface Repomd {
  readonly revision?: string;
  readonly data: readonly RepomdData[];
}

export interface RepomdOptions {
  /** Accept absolute http(s) URLs as data locations (dnf does; default: refused). */
  readonly allowAbsoluteHrefs?: boolean;
}

const DATA_CHILDREN = new Set([
  'checksum',
  'open-checksum',
  'header-checksum',
  'location',
  'timestamp',
  'size',
  'open-size',
  'header-size',
  'database_version',
]);
const TOP_CHILDREN = new Set(['revision', 'tags', 'data']);

/** Reads a checksum element: type attribute among METADATA_CHECKSUM_TYPES, hex value of the right length. */
export function readChecksum(element: XmlElement, prefix: 'repomd'): MetadataChecksum {
  const type = element.attributes.get('type');
  if (type === undefined)
    throw new ParseError(`${prefix}.checksum-type`, 'checksum without type', element.offset);
  if (!(METADATA_CHECKSUM_TYPES as readonly string[]).includes(type)) {
    throw new ParseError(
      `${prefix}.checksum-type`,
      `checksum type ${type.slice(0, 16)} refused`,
      element.offset,
    );
  }
  const t = type as MetadataChecksumType;
  const value = element.text.trim().toLowerCase();
  if (value.length !== CHECKSUM_HEX_LENGTH[t] || !/^[0-9a-f]+$/.test(value)) {
    throw new ParseError(`${prefix}.checksum-value`, `not a ${t} hex digest`, element.offset);
  }
  return { type: t, value };
}

function readNumber(element: XmlElement, prefix: 'repomd'): number {
  const text = element.text.trim();
  if (!/^[0-9]+$/.test(text) || text.length > MAX_NUMBER_DIGITS) {
    throw new ParseError(`${prefix}.number`, `${element.name} is not a decimal count`, element.offset);
  }
  return Number(text);
}

function readData(element: XmlElement, options: RepomdOptions): RepomdData {
  const type = element.attributes.get('type');
  if (type === undefined || !/^[a-z0-9_-]{1,64}$/.test(type)) {
    throw new ParseError('repomd.type', 'data type missing or not [a-z0-9_-]', element.offset);
  }
  const seen = new Map<string, XmlElement>();
  for (const child of element.children) {
    if (!DATA_CHILDREN.has(child.name)) {
      throw new ParseError('repomd.unknown-element', `unknown element ${child.name} in data`, child.offset);
    }
    if (seen.has(child.name))
      throw new ParseError('repomd.duplicate', `two ${child.name} in data`, child.offset);
    seen.set(child.name, child);
  }
  const location = seen.get('location');
  const checksum = seen.get('checksum');
  if (location === undefined || checksum === undefined) {
    throw new ParseError('repomd.missing', `data ${type} lacks location or checksum`, element.offset);
  }
  const href = location.attributes.get('href');
  if (href === undefined) throw new ParseError('repomd.href', 'location without href', location.offset);
  if (location.attributes.has('xml:base')) {
    throw new ParseError('repomd.href', 'xml:base on a data location refused', location.offset);
  }
  const openChecksum = seen.get('open-checksum');
  const size = seen.get('size');
  const openSize = seen.get('open-size');
  const timestamp = seen.get('timestamp');
  return {
    type,
    locationHref: checkHref(href, 'repomd.href', location.offset, {
      allowAbsoluteUrl: options.allowAbsoluteHrefs,
    }),
    checksum: readChecksum(checksum, 'repomd'),
    ...(openChecksum !== undefined ? { openChecksum: readChecksum(openChecksum, 'repomd') } : {}),
    ...(size !== undefined ? { size: readNumber(size, 'repomd') } : {}),
    ...(openSize !== undefined ? { openSize: readNumber(openSize, 'repomd') } : {}),
    ...(timestamp !== undefined ? { timestamp: readNumber(timestamp, 'repomd') } : {}),
  };
}

/** Parses repomd.xml bytes (untrusted). Throws ParseError ('repomd.*', 'xml.*'). */
export function parseRepomd(bytes: Uint8Array, options: RepomdOptions = {}): Repomd {
  if (bytes.length > MAX_REPOMD_BYTES) {
    throw new ParseError(
      'repomd.too-large',
      `repomd.xml larger than ${MAX_REPOMD_BYTES} bytes`,
      MAX_REPOMD_BYTES,
    );
  }
  const root = parseXmlTree(bytes, MAX_REPOMD_ELEMENTS, 'repomd.elements');
  if (root.name !== 'repomd')
    throw new ParseError('repomd.root', `root element is ${root.name}`, root.offset);
  let revision: string | undefined;
  const data: RepomdData[] = [];
  const types = new Set<string>();
  for (const child of root.children) {
    if (!TOP_CHILDREN.has(child.name)) {
      throw new ParseError('repomd.unknown-element', `unknown element ${child.name}`, child.offset);
    }
    if (child.name === 'revision') {
      if (revision !== undefined) throw new ParseError('repomd.duplicate', 'two revisions', child.offset);
      revision = child.text.trim();
    } else if (child.name === 'data') {
      if (data.length >= MAX_REPOMD_DATA_ENTRIES) {
        throw new ParseError(
          'repomd.data-count',
          `more than ${MAX_REPOMD_DATA_ENTRIES} data entries`,
          child.offset,
        );
      }
      const entry = readData(child, options);
      if (types.has(entry.type))
        throw new ParseError('repomd.duplicate', `two data of type ${entry.type}`, child.offset);
      types.add(entry.type);
      data.push(entry);
    }
  }
  return { ...(revision !== undefined ? { revision } : {}), data };
}

/** The entry of the given type, if the repository has one. */
export function findRepomdData(repomd: Repomd, type: string): RepomdData | undefined {
  return repomd.data.find((d) => d.type === type);
}

/**
 * Checks a detached armoured OpenPGP signature of repomd.xml (repomd.xml.asc, as dnf checks it
 * with repo_gpgcheck=1): at least one signature in the armour must be valid and made by one of
 * `keys`. Throws VerificationError ('repomd.signature.*').
 */
export async function verifyRepomdSignature(
  repomdBytes: Uint8Array,
  ascArmored: string,
  keys: readonly openpgp.PublicKey[],
): Promise<void> {
  if (keys.length === 0)
    throw new VerificationError('repomd.signature.no-keys', 'no keys to verify repomd.xml with');
  if (ascArmored.length > MAX_REPOMD_SIGNATURE_LENGTH) {
    throw new VerificationError('repomd.signature.malformed', 'signature file too large');
  }
  let signature: openpgp.Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: ascArmored });
  } catch (cause) {
    throw new VerificationError('repomd.signature.malformed', 'repomd.xml.asc is not an armoured signature', {
      cause,
    });
  }
  const message = await openpgp.createMessage({ binary: repomdBytes });
  let result: openpgp.VerifyMessageResult<Uint8Array>;
  try {
    result = await openpgp.verify({
      message,
      signature,
      verificationKeys: [...keys],
      format: 'binary',
      expectSigned: false,
    });
  } catch (cause) {
    throw new VerificationError('repomd.signature.malformed', 'repomd.xml.asc cannot be checked', { cause });
  }
  const knownKeyIds = new Set(keys.flatMap((k) => k.getKeyIDs().map((id) => id.toHex())));
  let sawKnownKey = false;
  let lastError: unknown;
  for (const sig of result.signatures) {
    if (!knownKeyIds.has(sig.keyID.toHex())) continue;
    sawKnownKey = true;
    try {
      if (await sig.verified) return;
    } catch (cause) {
      lastError = cause;
    }
  }
  if (!sawKnownKey) {
    throw new VerificationError(
      'repomd.signature.unknown-key',
      'repomd.xml is not signed by any trusted key',
    );
  }
  throw new VerificationError('repomd.signature.bad', 'repomd.xml signature does not verify', {
    cause: lastError,
  });
}
