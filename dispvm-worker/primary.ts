/**
 * primary.xml: the package list of an rpm-md repository, as createrepo_c writes it and
 * dnf (libsolv's repo_rpmmd) reads it. We read only what qvm-template's query format shows
 * for template packages (name qubes-template-*), plus where to download each one.
 *
 *   <metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="…/rpm" packages="N">
 *     <package type="rpm">
 *       <name/> <arch/> <version epoch= ver= rel=/> <checksum type= pkgid=/> <summary/>
 *       <description/> <packager/> <url/> <time file= build=/> <size package= installed= archive=/>
 *       <location href= [xml:base=]/> <format> <rpm:license/> … </format>
 *     </package> …
 *   </metadata>
 *
 * One odd entry must not take the repository down (qvm-template, which hands primary.xml to
 * dnf, lists nothing when one entry breaks its parser): a well-formed package entry whose fields
 * break our rules (an over-long or badly formed name, version or href, an epoch out of range, a
 * duplicate or missing field) is skipped and reported through `onSkip`, and every other entry is
 * kept. What is not an entry problem still refuses the whole document: malformed XML, a DTD, an
 * element other than <package> below the root, a package count that lies, and (in readPrimary) a
 * size or checksum that does not match repomd.xml.
 *
 * Over 300 lines: every field of a package entry is checked here, with the rules that skip one odd
 * entry.
 */
import {
  MAX_EPOCH,
  MAX_NAME_LENGTH,
  MAX_VERSION_LENGTH,
  PACKAGE_NAME_PATTERN,
  ParseError,
  TEMPLATE_PACKAGE_PREFIX,
} from '../protocol/index.ts';
import { checkHref } from './metadata-href.ts';
import { decompressMetadata, digestHex } from './metadata-decompress.ts';
import {
  METADATA_CHECKSUM_TYPES,
  type MetadataChecksum,
  type MetadataChecksumType,
  type RepomdData,
} from './repomd.ts';
import { scanXml } from './xml.ts';
import type { PrimaryErrorCode } from '../protocol/error-codes.ts';
export type { PrimaryErrorCode };

/** Largest compressed primary file accepted (Fedora's full primary.xml.zst is ~15 MiB). */
export const MAX_PRIMARY_COMPRESSED_BYTES = 64 * 1024 * 1024;
/** Largest decompressed primary.xml accepted. */
export const MAX_PRIMARY_XML_BYTES = 256 * 1024 * 1024;
/** Most packages in one primary.xml (Fedora's biggest repositories hold ~80 000). */
export const MAX_PRIMARY_PACKAGES = 500_000;
/**
 * Longest text kept from one field. A longer description is cut here and marked truncated (the
 * listing shows it cut, with a marker); any other field longer than this skips its entry.
 */
export const MAX_PRIMARY_FIELD_LENGTH = 64 * 1024;
/** Longest arch accepted (rpm arches are short words like noarch, x86_64). */
const MAX_ARCH_LENGTH = 64;
const MAX_NUMBER_DIGITS = 15;

export interface PrimaryPackage {
  /** Package name, qubes-template-<template name>. */
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
  readonly arch: string;
  /** The repository id the caller read this primary for. */
  readonly repoid: string;
  /** size@package: bytes to download. */
  readonly downloadsize: number;
  /** time@build: seconds since the epoch. */
  readonly buildtime: number;
  readonly license: string;
  readonly url: string;
  readonly summary: string;
  readonly description: string;
  /** Set when the description was longer than MAX_PRIMARY_FIELD_LENGTH and was cut. */
  readonly descriptionTruncated?: true;
  /** Relative to the repository base URL (or an absolute URL when allowed). */
  readonly locationHref: string;
  /** xml:base of the location, when allowed and present. */
  readonly locationBase?: string;
  readonly checksum: MetadataChecksum;
}

/** A template package entry left out of the listing, and why. */
export interface PrimarySkip {
  readonly code: PrimaryErrorCode;
  readonly message: string;
  /** Byte offset of the entry's <package> element. */
  readonly offset: number;
  /** untrusted: the entry's name, when it is an rpm package name. */
  readonly name?: string;
}

export interface PrimaryOptions {
  /** Accept absolute http(s) package locations and xml:base (default: such entries are skipped). */
  readonly allowAbsoluteHrefs?: boolean;
  /** Told about every template package entry that is skipped, in document order. */
  readonly onSkip?: (skip: PrimarySkip) => void;
}

/** The package-level elements whose text or attributes we keep; everything else is skipped. */
const TEXT_FIELDS = new Set(['name', 'arch', 'summary', 'description', 'url', 'checksum']);
const ATTRIBUTE_FIELDS = new Set(['version', 'time', 'size', 'location', 'checksum']);
const REQUIRED = ['name', 'arch', 'version', 'checksum', 'time', 'size', 'location'] as const;

interface Collected {
  readonly offset: number;
  readonly texts: Map<string, string>;
  readonly attributes: Map<string, ReadonlyMap<string, string>>;
  license?: string;
  descriptionTruncated?: true;
  /** The first rule the entry broke while it was read; it is skipped when it is a template. */
  problem?: { readonly code: PrimaryErrorCode; readonly message: string };
}

function readNumberAttribute(
  attributes: ReadonlyMap<string, string> | undefined,
  name: string,
  offset: number,
  fallback?: number,
): number {
  const text = attributes?.get(name);
  if (text === undefined && fallback !== undefined) return fallback;
  if (text === undefined || !/^[0-9]+$/.test(text) || text.length > MAX_NUMBER_DIGITS) {
    throw new ParseError('primary.number', `${name} missing or not a decimal number`, offset);
  }
  return Number(text);
}

/**
 * The entry as a template package, or undefined for another package (not ours to judge: it is
 * ignored whatever its fields). Throws ParseError ('primary.*') for a template entry that breaks a
 * rule; the caller skips that entry.
 */
function toPackage(c: Collected, repoid: string, options: PrimaryOptions): PrimaryPackage | undefined {
  const named = c.texts.get('name');
  if (named !== undefined && !named.startsWith(TEMPLATE_PACKAGE_PREFIX)) return undefined;
  if (c.problem !== undefined) throw new ParseError(c.problem.code, c.problem.message, c.offset);
  for (const field of REQUIRED) {
    if (!c.texts.has(field) && !c.attributes.has(field)) {
      throw new ParseError('primary.missing', `package without ${field}`, c.offset);
    }
  }
  const name = named ?? '';
  if (name.length > MAX_NAME_LENGTH || !PACKAGE_NAME_PATTERN.test(name)) {
    throw new ParseError('primary.name', 'package name is not an rpm name', c.offset);
  }
  const arch = c.texts.get('arch') ?? '';
  if (arch.length > MAX_ARCH_LENGTH || !/^[A-Za-z0-9_]+$/.test(arch)) {
    throw new ParseError('primary.arch', 'arch is not [A-Za-z0-9_]', c.offset);
  }
  const version = c.attributes.get('version');
  const epoch = readNumberAttribute(version, 'epoch', c.offset, 0);
  const ver = version?.get('ver') ?? '';
  const rel = version?.get('rel') ?? '';
  const evrCharset = /^[A-Za-z0-9._+~^]+$/;
  if (
    epoch > MAX_EPOCH ||
    !evrCharset.test(ver) ||
    !evrCharset.test(rel) ||
    ver.length > MAX_VERSION_LENGTH ||
    rel.length > MAX_VERSION_LENGTH
  ) {
    throw new ParseError('primary.evr', 'epoch, ver or rel out of range or charset', c.offset);
  }
  const checksumType = c.attributes.get('checksum')?.get('type') ?? '';
  if (!(METADATA_CHECKSUM_TYPES as readonly string[]).includes(checksumType)) {
    throw new ParseError(
      'primary.checksum-type',
      `package checksum type ${checksumType.slice(0, 16)} refused`,
      c.offset,
    );
  }
  const checksumValue = (c.texts.get('checksum') ?? '').trim().toLowerCase();
  const hexLength = { sha256: 64, sha384: 96, sha512: 128 }[checksumType as MetadataChecksumType];
  if (checksumValue.length !== hexLength || !/^[0-9a-f]+$/.test(checksumValue)) {
    throw new ParseError('primary.checksum-value', `package checksum is not ${checksumType} hex`, c.offset);
  }
  const location = c.attributes.get('location');
  const href = location?.get('href');
  if (href === undefined) throw new ParseError('primary.href', 'location without href', c.offset);
  const allowAbsoluteUrl = options.allowAbsoluteHrefs === true;
  const base = location?.get('xml:base');
  if (base !== undefined && !allowAbsoluteUrl)
    throw new ParseError('primary.href', 'xml:base refused', c.offset);
  return {
    name,
    epoch,
    version: ver,
    release: rel,
    arch,
    repoid,
    downloadsize: readNumberAttribute(c.attributes.get('size'), 'package', c.offset),
    buildtime: readNumberAttribute(c.attributes.get('time'), 'build', c.offset),
    license: c.license ?? '',
    url: c.texts.get('url') ?? '',
    summary: c.texts.get('summary') ?? '',
    description: c.texts.get('description') ?? '',
    ...(c.descriptionTruncated ? { descriptionTruncated: true as const } : {}),
    locationHref: checkHref(href, 'primary.href', c.offset, { allowAbsoluteUrl }),
    ...(base !== undefined
      ? { locationBase: checkHref(base, 'primary.href', c.offset, { allowAbsoluteUrl }) }
      : {}),
    checksum: { type: checksumType as MetadataChecksumType, value: checksumValue },
  };
}

/** Settles one entry: its package, or undefined after telling onSkip why it was left out. */
function settleEntry(c: Collected, repoid: string, options: PrimaryOptions): PrimaryPackage | undefined {
  try {
    return toPackage(c, repoid, options);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    const name = c.texts.get('name');
    options.onSkip?.({
      code: error.code as PrimaryErrorCode,
      message: error.message,
      offset: c.offset,
      ...(name !== undefined && name.length <= MAX_NAME_LENGTH && PACKAGE_NAME_PATTERN.test(name)
        ? { name }
        : {}),
    });
    return undefined;
  }
}

/**
 * Reads decompressed primary.xml bytes (untrusted) and returns its template packages in
 * document order; template entries that break a rule are skipped and told to `onSkip`.
 * Throws ParseError ('primary.*', 'xml.*') when the document itself is refused.
 */
export function parsePrimaryXml(
  xml: Uint8Array,
  repoid: string,
  options: PrimaryOptions = {},
): PrimaryPackage[] {
  if (xml.length > MAX_PRIMARY_XML_BYTES) {
    throw new ParseError(
      'primary.too-large',
      `primary.xml larger than ${MAX_PRIMARY_XML_BYTES} bytes`,
      MAX_PRIMARY_XML_BYTES,
    );
  }
  const packages: PrimaryPackage[] = [];
  let declaredCount: number | undefined;
  let count = 0;
  // Element path below the root: [] at <metadata>, ['package'] inside a package, and so on.
  const path: string[] = [];
  let depth = 0;
  let current: Collected | undefined;
  let textTarget: string | undefined;
  let text = '';
  let rootOffset = 0;
  scanXml(xml, {
    openElement(name, attributes, offset) {
      depth++;
      if (depth === 1) {
        if (name !== 'metadata') throw new ParseError('primary.root', `root element is ${name}`, offset);
        rootOffset = offset;
        const declared = attributes.get('packages');
        if (declared !== undefined) {
          if (!/^[0-9]{1,9}$/.test(declared))
            throw new ParseError('primary.number', 'packages is not a count', offset);
          declaredCount = Number(declared);
        }
        return;
      }
      path.push(name);
      if (depth === 2) {
        if (name !== 'package')
          throw new ParseError('primary.unknown-element', `unknown element ${name}`, offset);
        if (attributes.get('type') !== 'rpm')
          throw new ParseError('primary.package-type', 'package type is not rpm', offset);
        count++;
        if (count > MAX_PRIMARY_PACKAGES) {
          throw new ParseError('primary.package-count', `more than ${MAX_PRIMARY_PACKAGES} packages`, offset);
        }
        current = { offset, texts: new Map(), attributes: new Map() };
        return;
      }
      if (current === undefined) return;
      if (textTarget !== undefined) {
        current.problem ??= {
          code: 'primary.unknown-element',
          message: `element ${name} inside ${textTarget}`,
        };
        return;
      }
      if (depth === 3) {
        if (current.texts.has(name) || current.attributes.has(name)) {
          if (TEXT_FIELDS.has(name) || ATTRIBUTE_FIELDS.has(name)) {
            current.problem ??= { code: 'primary.duplicate', message: `two ${name} in one package` };
            return;
          }
        }
        if (ATTRIBUTE_FIELDS.has(name)) current.attributes.set(name, attributes);
        if (TEXT_FIELDS.has(name)) {
          textTarget = name;
          text = '';
        }
      } else if (depth === 4 && path[1] === 'format' && name === 'rpm:license') {
        if (current.license !== undefined) {
          current.problem ??= { code: 'primary.duplicate', message: 'two rpm:license' };
          return;
        }
        textTarget = 'rpm:license';
        text = '';
      }
    },
    text(piece) {
      if (textTarget === undefined || current === undefined) return;
      const room = MAX_PRIMARY_FIELD_LENGTH - text.length;
      if (piece.length > room) {
        // Only the first MAX_PRIMARY_FIELD_LENGTH characters are ever held.
        if (textTarget === 'description') {
          text += piece.slice(0, room);
          current.descriptionTruncated = true;
        } else {
          current.problem ??= {
            code: 'primary.field-too-long',
            message: `${textTarget} longer than ${MAX_PRIMARY_FIELD_LENGTH}`,
          };
        }
        return;
      }
      text += piece;
    },
    closeElement(name) {
      depth--;
      if (depth === 0) return;
      path.pop();
      if (current !== undefined && textTarget === name && depth === (name === 'rpm:license' ? 3 : 2)) {
        if (name === 'rpm:license') current.license = text;
        else current.texts.set(name, text);
        textTarget = undefined;
      }
      if (depth === 1 && current !== undefined) {
        const pkg = settleEntry(current, repoid, options);
        if (pkg !== undefined) packages.push(pkg);
        current = undefined;
      }
    },
  });
  if (declaredCount !== undefined && declaredCount !== count) {
    throw new ParseError(
      'primary.package-count',
      `packages="${declaredCount}" but ${count} listed`,
      rootOffset,
    );
  }
  return packages;
}

/**
 * Checks a downloaded primary data file against its repomd entry (size, checksum; after
 * decompression open-size and open-checksum), then parses it. The compressed file's checksum is
 * checked before any decompressor sees the bytes.
 */
export async function readPrimary(
  fileBytes: Uint8Array,
  entry: RepomdData,
  repoid: string,
  options: PrimaryOptions = {},
): Promise<PrimaryPackage[]> {
  if (fileBytes.length > MAX_PRIMARY_COMPRESSED_BYTES) {
    throw new ParseError(
      'primary.too-large',
      `primary file larger than ${MAX_PRIMARY_COMPRESSED_BYTES}`,
      MAX_PRIMARY_COMPRESSED_BYTES,
    );
  }
  if (entry.size !== undefined && entry.size !== fileBytes.length) {
    throw new ParseError(
      'primary.size',
      `primary file is ${fileBytes.length} bytes, repomd says ${entry.size}`,
      0,
    );
  }
  if (digestHex(fileBytes, entry.checksum.type) !== entry.checksum.value) {
    throw new ParseError(
      'primary.checksum',
      `primary file ${entry.checksum.type} does not match repomd.xml`,
      0,
    );
  }
  const xml = await decompressMetadata(fileBytes, MAX_PRIMARY_XML_BYTES, 'primary');
  if (entry.openSize !== undefined && entry.openSize !== xml.length) {
    throw new ParseError(
      'primary.open-size',
      `primary.xml is ${xml.length} bytes, repomd says ${entry.openSize}`,
      0,
    );
  }
  if (
    entry.openChecksum !== undefined &&
    digestHex(xml, entry.openChecksum.type) !== entry.openChecksum.value
  ) {
    throw new ParseError('primary.open-checksum', 'decompressed primary.xml does not match open-checksum', 0);
  }
  return parsePrimaryXml(xml, repoid, options);
}
