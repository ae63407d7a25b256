/**
 * Metalinks as dnf (librepo's lr_metalink_parse_file) reads them for `metalink=` repositories,
 * e.g. https://yum.qubes-os.org/r4.2/templates-itl/repodata/repomd.xml.metalink (MirrorManager's
 * Metalink 3.0 dialect):
 *
 *   <metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 *     <files><file name="repomd.xml">
 *       <mm0:timestamp>…</mm0:timestamp> <size>…</size>
 *       <verification><hash type="sha256">…</hash> …</verification>
 *       <mm0:alternates><mm0:alternate>(timestamp, size, verification)</mm0:alternate>…</mm0:alternates>
 *       <resources><url protocol="https" type="https" location="DE" preference="100">…/repodata/repomd.xml</url>…</resources>
 *     </file></files>
 *   </metalink>
 *
 * The metalink is as untrusted as the mirrors: it only says where to look and which repomd.xml
 * to expect (alternates cover mirrors that lag one revision, as librepo accepts them).
 */
import { ParseError, VerificationError } from '../protocol/index.ts';
import { digestHex } from './metadata-decompress.ts';
import { parseXmlTree, type XmlElement } from './xml.ts';
import type { MetalinkErrorCode } from '../protocol/error-codes.ts';
export type { MetalinkErrorCode };

export type MetalinkVerificationCode = 'metalink.no-strong-hash' | 'metalink.hash-mismatch';

/** Largest metalink accepted; Fedora's, with ~200 mirrors, is ~60 KiB. */
export const MAX_METALINK_BYTES = 2 * 1024 * 1024;
export const MAX_METALINK_ELEMENTS = 50_000;
/** Most mirror URLs kept. */
export const MAX_METALINK_URLS = 2048;
/** Most alternates (older repomd.xml revisions) kept. */
export const MAX_METALINK_ALTERNATES = 64;
export const MAX_METALINK_URL_LENGTH = 2048;

/** Hash types used to check repomd.xml; md5 and sha1 entries are ignored. */
const STRONG_HASHES = { sha512: 128, sha256: 64 } as const;
type StrongHash = keyof typeof STRONG_HASHES;

export interface MetalinkHash {
  readonly type: string;
  /** Lowercase hex. */
  readonly value: string;
}

/** One acceptable repomd.xml: the current one or an alternate. */
export interface MetalinkRepomd {
  readonly size?: number;
  readonly timestamp?: number;
  readonly hashes: readonly MetalinkHash[];
}

export interface MetalinkMirror {
  /** The repomd.xml URL as listed. */
  readonly url: string;
  /** The repository base URL: url without the trailing repodata/repomd.xml. */
  readonly baseUrl: string;
  readonly protocol: 'https' | 'http';
  /** 0-100; higher first. */
  readonly preference: number;
  readonly location?: string;
}

export interface Metalink {
  readonly repomd: MetalinkRepomd;
  readonly alternates: readonly MetalinkRepomd[];
  /** https and http mirrors, highest preference first (document order among equals). */
  readonly mirrors: readonly MetalinkMirror[];
}

const localName = (name: string): string => name.slice(name.indexOf(':') + 1);

function only(parent: XmlElement, name: string): XmlElement | undefined {
  const found = parent.children.filter((c) => localName(c.name) === name);
  if (found.length > 1)
    throw new ParseError('metalink.duplicate', `two ${name} in ${parent.name}`, found[1]!.offset);
  return found[0];
}

function readCount(element: XmlElement | undefined): number | undefined {
  if (element === undefined) return undefined;
  const text = element.text.trim();
  if (!/^[0-9]{1,15}$/.test(text))
    throw new ParseError('metalink.number', `${element.name} is not a count`, element.offset);
  return Number(text);
}

function readRepomdEntry(element: XmlElement): MetalinkRepomd {
  const verification = only(element, 'verification');
  const hashes: MetalinkHash[] = [];
  for (const hash of verification?.children ?? []) {
    if (localName(hash.name) !== 'hash') continue;
    const type = hash.attributes.get('type');
    const value = hash.text.trim().toLowerCase();
    if (type === undefined || !/^[a-z0-9-]{1,16}$/.test(type) || !/^[0-9a-f]{32,128}$/.test(value)) {
      throw new ParseError('metalink.hash', 'hash without a type or with a non-hex value', hash.offset);
    }
    if (type in STRONG_HASHES && value.length !== STRONG_HASHES[type as StrongHash]) {
      throw new ParseError('metalink.hash', `${type} hash of the wrong length`, hash.offset);
    }
    if (hashes.some((h) => h.type === type))
      throw new ParseError('metalink.duplicate', `two ${type} hashes`, hash.offset);
    hashes.push({ type, value });
  }
  const size = readCount(only(element, 'size'));
  const timestamp = readCount(only(element, 'timestamp'));
  return {
    ...(size !== undefined ? { size } : {}),
    ...(timestamp !== undefined ? { timestamp } : {}),
    hashes,
  };
}

function readMirrors(resources: XmlElement | undefined): MetalinkMirror[] {
  const mirrors: MetalinkMirror[] = [];
  for (const url of resources?.children ?? []) {
    if (localName(url.name) !== 'url') continue;
    if (mirrors.length >= MAX_METALINK_URLS) {
      throw new ParseError('metalink.url-count', `more than ${MAX_METALINK_URLS} mirror URLs`, url.offset);
    }
    const text = url.text.trim();
    const protocol = url.attributes.get('protocol');
    if (protocol !== 'https' && protocol !== 'http') continue;
    if (text.length > MAX_METALINK_URL_LENGTH || !/^[\x21-\x7e]+$/.test(text)) continue;
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      continue;
    }
    // The protocol attribute must agree with the URL itself; mirrors that lie are skipped.
    if (parsed.protocol !== `${protocol}:` || parsed.username !== '' || parsed.password !== '') continue;
    if (!text.endsWith('/repodata/repomd.xml')) continue;
    const preferenceText = url.attributes.get('preference') ?? '100';
    if (!/^[0-9]{1,3}$/.test(preferenceText) || Number(preferenceText) > 100) {
      throw new ParseError('metalink.number', 'preference is not 0-100', url.offset);
    }
    const location = url.attributes.get('location');
    mirrors.push({
      url: text,
      baseUrl: text.slice(0, -'repodata/repomd.xml'.length),
      protocol,
      preference: Number(preferenceText),
      ...(location !== undefined ? { location } : {}),
    });
  }
  // Array.prototype.sort is stable, so equal preferences keep the document order.
  return mirrors.sort((a, b) => b.preference - a.preference);
}

/** Parses a repomd.xml metalink (untrusted). Throws ParseError ('metalink.*', 'xml.*'). */
export function parseMetalink(bytes: Uint8Array): Metalink {
  if (bytes.length > MAX_METALINK_BYTES) {
    throw new ParseError(
      'metalink.too-large',
      `metalink larger than ${MAX_METALINK_BYTES} bytes`,
      MAX_METALINK_BYTES,
    );
  }
  const root = parseXmlTree(bytes, MAX_METALINK_ELEMENTS, 'metalink.elements');
  if (root.name !== 'metalink')
    throw new ParseError('metalink.root', `root element is ${root.name}`, root.offset);
  const files = only(root, 'files');
  const candidates = (files?.children ?? []).filter(
    (f) => localName(f.name) === 'file' && f.attributes.get('name') === 'repomd.xml',
  );
  if (candidates.length === 0)
    throw new ParseError('metalink.no-file', 'no <file name="repomd.xml">', root.offset);
  if (candidates.length > 1)
    throw new ParseError('metalink.duplicate', 'two repomd.xml files', candidates[1]!.offset);
  const file = candidates[0]!;
  const alternatesElement = only(file, 'alternates');
  const alternates = (alternatesElement?.children ?? [])
    .filter((a) => localName(a.name) === 'alternate')
    .map(readRepomdEntry);
  if (alternates.length > MAX_METALINK_ALTERNATES) {
    throw new ParseError('metalink.elements', `more than ${MAX_METALINK_ALTERNATES} alternates`, file.offset);
  }
  return { repomd: readRepomdEntry(file), alternates, mirrors: readMirrors(only(file, 'resources')) };
}

/**
 * Checks downloaded repomd.xml bytes against the metalink: they must match the current entry or
 * an alternate by size (when given) and by its strongest hash (sha512, else sha256). Throws
 * VerificationError ('metalink.no-strong-hash', 'metalink.hash-mismatch'); returns the entry
 * that matched.
 */
export function checkRepomdAgainstMetalink(repomdBytes: Uint8Array, metalink: Metalink): MetalinkRepomd {
  const entries = [metalink.repomd, ...metalink.alternates];
  let usable = 0;
  for (const entry of entries) {
    const strongest = (['sha512', 'sha256'] as const)
      .map((type) => entry.hashes.find((h) => h.type === type))
      .find((h) => h !== undefined);
    if (strongest === undefined) continue;
    usable++;
    if (entry.size !== undefined && entry.size !== repomdBytes.length) continue;
    if (digestHex(repomdBytes, strongest.type as StrongHash) === strongest.value) return entry;
  }
  if (usable === 0) {
    throw new VerificationError(
      'metalink.no-strong-hash',
      'metalink announces no sha256 or sha512 for repomd.xml',
    );
  }
  throw new VerificationError('metalink.hash-mismatch', 'repomd.xml matches no hash the metalink announces');
}
