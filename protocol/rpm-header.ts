/**
 * Strict parser of one RPM header structure (RPM file format, "Header"; rpm's lib/header.c,
 * hdrblobRead / hdrblobVerifyRegion / hdrblobVerifyInfo):
 *
 *   magic 8e ad e8 01 00 00 00 00 | il: u32 | dl: u32 | il x {tag, type, offset, count} | dl data
 *
 * The first entry must be the header's region tag (62 in the signature header, 63 in the main
 * header) whose 16-byte trailer, at the end of the data, points back over every entry: tmpl
 * requires the region to cover the whole header in both headers (rpm tolerates a missing or short
 * signature region; no rpm since 4.0 writes one). Every other entry is checked as rpm checks it:
 * tag >= 100, type 1..9, count within bounds, aligned offset inside the store, data that fits,
 * strings NUL-terminated inside the store, entries' data in index order without overlap, nothing
 * overlapping the region trailer. tmpl also refuses duplicate tags.
 *
 * Over 300 lines: every check rpm makes on a header, in rpm's order; the region checks depend on
 * the entry checks' offsets.
 */
import { ParseError } from './errors.ts';
import type { RpmParseErrorCode } from './rpm-errors.ts';
import {
  HEADER_I18NTABLE,
  HEADER_IMAGE,
  HEADER_IMMUTABLE,
  HEADER_SIGNATURES,
  MAIN_HEADER_TAG_TYPES,
  RpmType,
} from './rpm-tags.ts';

export const HEADER_MAGIC = Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0x00, 0x00, 0x00, 0x00);
/** Magic, index count and data length. */
export const HEADER_PREAMBLE_SIZE = 16;
export const HEADER_INDEX_ENTRY_SIZE = 16;
/** A region tag's data: a 16-byte trailer that looks like an index entry. */
export const REGION_TRAILER_SIZE = 16;

/** rpm's HEADER_TAGS_MAX. */
export const MAX_HEADER_INDEX_ENTRIES = 0xffff;
/** rpm allows 256 MiB; a template package's header is a few KiB. */
export const MAX_HEADER_DATA_BYTES = 64 * 1024 * 1024;
/** rpm's own limit for the signature header (hdrblobVerifyLengths). */
export const MAX_SIGNATURE_HEADER_INDEX_ENTRIES = 32;
/** rpm allows 64 MiB; signatures, digests and reserved space take a few KiB. */
export const MAX_SIGNATURE_HEADER_DATA_BYTES = 1024 * 1024;
/** rpm's HEADER_ARRAY_MAX: the largest element count of a non-binary entry. */
export const MAX_HEADER_ARRAY_COUNT = 0xfffff;

/** Size in bytes of one element of the fixed-size types, indexed by type. */
const TYPE_SIZES: readonly number[] = [0, 1, 1, 2, 4, 8, -1, 1, -1, -1];
const TYPE_ALIGN: readonly number[] = [1, 1, 1, 2, 4, 8, 1, 1, 1, 1];
const STRING_CLASS: ReadonlySet<number> = new Set([RpmType.STRING, RpmType.STRING_ARRAY, RpmType.I18NSTRING]);

export interface HeaderKind {
  readonly name: 'signature' | 'main';
  readonly regionTag: number;
  readonly maxEntries: number;
  readonly maxDataBytes: number;
  /** Check known tags' types (rpm does so for the main header only). */
  readonly typeCheck: boolean;
}

export const SIGNATURE_HEADER: HeaderKind = {
  name: 'signature',
  regionTag: HEADER_SIGNATURES,
  maxEntries: MAX_SIGNATURE_HEADER_INDEX_ENTRIES,
  maxDataBytes: MAX_SIGNATURE_HEADER_DATA_BYTES,
  typeCheck: false,
};

export const MAIN_HEADER: HeaderKind = {
  name: 'main',
  regionTag: HEADER_IMMUTABLE,
  maxEntries: MAX_HEADER_INDEX_ENTRIES,
  maxDataBytes: MAX_HEADER_DATA_BYTES,
  typeCheck: true,
};

export interface HeaderEntry {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  /** Offset of the entry's data in the data store. */
  readonly offset: number;
  /** Length in bytes of the entry's data. */
  readonly length: number;
}

export interface HeaderPreamble {
  readonly indexCount: number;
  readonly dataLength: number;
  /** Total bytes of the header, preamble included. */
  readonly totalLength: number;
}

/** Checks the magic and the declared sizes against the kind's limits. `base`: file offset. */
export function parseHeaderPreamble(bytes: Uint8Array, base: number, kind: HeaderKind): HeaderPreamble {
  if (bytes.length < HEADER_PREAMBLE_SIZE) {
    throw new ParseError('rpm.truncated', `${kind.name} header preamble is truncated`, base + bytes.length);
  }
  for (let i = 0; i < HEADER_MAGIC.length; i++) {
    if (bytes[i] !== HEADER_MAGIC[i]) {
      throw new ParseError('rpm.header.magic', `${kind.name} header: bad magic`, base + i);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_PREAMBLE_SIZE);
  const indexCount = view.getUint32(8);
  const dataLength = view.getUint32(12);
  if (indexCount < 1 || indexCount > kind.maxEntries) {
    throw new ParseError(
      'rpm.header.index-count',
      `${kind.name} header: ${indexCount} index entries (allowed 1..${kind.maxEntries})`,
      base + 8,
    );
  }
  if (dataLength > kind.maxDataBytes) {
    throw new ParseError(
      'rpm.header.data-size',
      `${kind.name} header: ${dataLength} data bytes (limit ${kind.maxDataBytes})`,
      base + 12,
    );
  }
  return {
    indexCount,
    dataLength,
    totalLength: HEADER_PREAMBLE_SIZE + indexCount * HEADER_INDEX_ENTRY_SIZE + dataLength,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A parsed, structurally valid header. Accessors check the type of what they return. */
export class RpmHeader {
  /** The header's bytes exactly as in the file, from the magic to the end of the data. */
  readonly bytes: Uint8Array;
  /** Offset of the header in the package file (for error offsets). */
  readonly fileOffset: number;
  readonly kind: HeaderKind;
  /** Entries in index order, the region entry excluded. */
  readonly entries: readonly HeaderEntry[];
  readonly #byTag: ReadonlyMap<number, HeaderEntry>;
  readonly #dataStart: number;

  constructor(
    bytes: Uint8Array,
    fileOffset: number,
    kind: HeaderKind,
    entries: readonly HeaderEntry[],
    dataStart: number,
  ) {
    this.bytes = bytes;
    this.fileOffset = fileOffset;
    this.kind = kind;
    this.entries = entries;
    this.#byTag = new Map(entries.map((e) => [e.tag, e]));
    this.#dataStart = dataStart;
  }

  has(tag: number): boolean {
    return this.#byTag.has(tag);
  }

  entry(tag: number): HeaderEntry | undefined {
    return this.#byTag.get(tag);
  }

  /** The raw data bytes of an entry. */
  data(entry: HeaderEntry): Uint8Array {
    const start = this.#dataStart + entry.offset;
    return this.bytes.subarray(start, start + entry.length);
  }

  /** File offset of an entry's data, for error reports. */
  dataOffset(entry: HeaderEntry): number {
    return this.fileOffset + this.#dataStart + entry.offset;
  }

  #typed(tag: number, types: readonly number[]): HeaderEntry | undefined {
    const e = this.#byTag.get(tag);
    if (e === undefined) return undefined;
    if (!types.includes(e.type)) {
      throw new ParseError(
        'rpm.header.tag-type',
        `${this.kind.name} header: tag ${tag} has type ${e.type}, expected ${types.join(' or ')}`,
        this.dataOffset(e),
      );
    }
    return e;
  }

  #strings(e: HeaderEntry): string[] {
    const data = this.data(e);
    const out: string[] = [];
    let start = 0;
    for (let i = 0; i < e.count; i++) {
      const nul = data.indexOf(0, start);
      try {
        out.push(utf8.decode(data.subarray(start, nul)));
      } catch (cause) {
        throw new ParseError(
          'rpm.header.string-encoding',
          `${this.kind.name} header: tag ${e.tag} is not UTF-8`,
          this.dataOffset(e) + start,
          { cause },
        );
      }
      start = nul + 1;
    }
    return out;
  }

  /** A STRING tag (or the first, untranslated element of an I18NSTRING). */
  string(tag: number): string | undefined {
    const e = this.#typed(tag, [RpmType.STRING, RpmType.I18NSTRING]);
    return e === undefined ? undefined : this.#strings(e)[0];
  }

  /** A STRING_ARRAY or I18NSTRING tag. */
  stringArray(tag: number): string[] | undefined {
    const e = this.#typed(tag, [RpmType.STRING_ARRAY, RpmType.I18NSTRING]);
    return e === undefined ? undefined : this.#strings(e);
  }

  /** An integer tag of any width; INT64 values must be safe integers. */
  numbers(tag: number): number[] | undefined {
    const e = this.#typed(tag, [RpmType.CHAR, RpmType.INT8, RpmType.INT16, RpmType.INT32, RpmType.INT64]);
    if (e === undefined) return undefined;
    const data = this.data(e);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const out: number[] = [];
    for (let i = 0; i < e.count; i++) {
      switch (e.type) {
        case RpmType.INT16:
          out.push(view.getUint16(i * 2));
          break;
        case RpmType.INT32:
          out.push(view.getUint32(i * 4));
          break;
        case RpmType.INT64: {
          const v = view.getBigUint64(i * 8);
          if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
            throw new ParseError(
              'rpm.header.integer-range',
              `tag ${tag}: ${v} is too large`,
              this.dataOffset(e) + i * 8,
            );
          }
          out.push(Number(v));
          break;
        }
        default:
          out.push(view.getUint8(i));
      }
    }
    return out;
  }

  /** A BIN tag's bytes. */
  binary(tag: number): Uint8Array | undefined {
    const e = this.#typed(tag, [RpmType.BIN]);
    return e === undefined ? undefined : this.data(e);
  }
}

function fail(code: RpmParseErrorCode, message: string, offset: number): never {
  throw new ParseError(code, message, offset);
}

/**
 * Parses exactly one header: `bytes` must hold the header and nothing else. `base` is the file
 * offset of bytes[0], used in every error.
 */
export function parseHeader(bytes: Uint8Array, base: number, kind: HeaderKind): RpmHeader {
  const pre = parseHeaderPreamble(bytes, base, kind);
  if (bytes.length < pre.totalLength) {
    fail('rpm.truncated', `${kind.name} header needs ${pre.totalLength} bytes`, base + bytes.length);
  }
  if (bytes.length > pre.totalLength) {
    fail('rpm.header.trailing', `${kind.name} header: bytes after its data`, base + pre.totalLength);
  }
  const il = pre.indexCount;
  const dl = pre.dataLength;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataStart = HEADER_PREAMBLE_SIZE + il * HEADER_INDEX_ENTRY_SIZE;
  const data = bytes.subarray(dataStart);
  const indexAt = (i: number) => base + HEADER_PREAMBLE_SIZE + i * HEADER_INDEX_ENTRY_SIZE;
  const readEntry = (i: number) => {
    const p = HEADER_PREAMBLE_SIZE + i * HEADER_INDEX_ENTRY_SIZE;
    return {
      // rpm_tag_t is signed: a tag with the top bit set is negative and fails the >= 100 check.
      tag: view.getInt32(p),
      type: view.getUint32(p + 4),
      offset: view.getInt32(p + 8),
      count: view.getUint32(p + 12),
    };
  };
  const name = kind.name;

  // The region entry and its trailer (rpm's hdrblobVerifyRegion).
  const region = readEntry(0);
  if (region.tag !== kind.regionTag) {
    fail(
      'rpm.header.region',
      `${name} header: first entry is tag ${region.tag}, not region ${kind.regionTag}`,
      indexAt(0),
    );
  }
  if (region.type !== RpmType.BIN || region.count !== REGION_TRAILER_SIZE) {
    fail('rpm.header.region', `${name} header: malformed region entry`, indexAt(0));
  }
  if (region.offset < 0 || region.offset + REGION_TRAILER_SIZE > dl) {
    fail('rpm.header.region', `${name} header: region trailer outside the data`, indexAt(0) + 8);
  }
  const trailerAt = dataStart + region.offset;
  let trailerTag = view.getUint32(trailerAt);
  const trailerType = view.getUint32(trailerAt + 4);
  const trailerOffset = view.getInt32(trailerAt + 8);
  const trailerCount = view.getUint32(trailerAt + 12);
  // Some old packages carry HEADERIMAGE in the signature region's trailer; rpm accepts it.
  if (kind.regionTag === HEADER_SIGNATURES && trailerTag === HEADER_IMAGE) trailerTag = HEADER_SIGNATURES;
  if (trailerTag !== kind.regionTag || trailerType !== RpmType.BIN || trailerCount !== REGION_TRAILER_SIZE) {
    fail('rpm.header.region', `${name} header: bad region trailer`, base + trailerAt);
  }
  // The trailer's offset is minus the size of the region's index (16 bytes per entry).
  const regionIndexBytes = -trailerOffset;
  if (
    trailerOffset >= 0 ||
    regionIndexBytes % HEADER_INDEX_ENTRY_SIZE !== 0 ||
    regionIndexBytes / HEADER_INDEX_ENTRY_SIZE > il
  ) {
    fail('rpm.header.region', `${name} header: region size does not fit the header`, base + trailerAt + 8);
  }
  const regionEntries = regionIndexBytes / HEADER_INDEX_ENTRY_SIZE;
  const regionDataLength = region.offset + REGION_TRAILER_SIZE;
  if (regionEntries !== il) {
    fail(
      'rpm.header.trailing',
      `${name} header: ${il - regionEntries} entries outside the region`,
      base + trailerAt + 8,
    );
  }
  if (regionDataLength !== dl) {
    fail(
      'rpm.header.trailing',
      `${name} header: ${dl - regionDataLength} data bytes after the region trailer`,
      base + dataStart + regionDataLength,
    );
  }

  // Every other entry (rpm's hdrblobVerifyInfo), plus duplicate tags.
  const entries: HeaderEntry[] = [];
  const seen = new Set<number>();
  let end = 0;
  for (let i = 1; i < il; i++) {
    const e = readEntry(i);
    const at = indexAt(i);
    if (e.tag < HEADER_I18NTABLE)
      fail('rpm.header.entry-tag', `${name} header: entry ${i} has reserved tag ${e.tag}`, at);
    if (seen.has(e.tag)) fail('rpm.header.duplicate-tag', `${name} header: tag ${e.tag} appears twice`, at);
    seen.add(e.tag);
    if (e.type < RpmType.CHAR || e.type > RpmType.I18NSTRING) {
      fail('rpm.header.entry-type', `${name} header: entry ${i} has bad type ${e.type}`, at + 4);
    }
    if (e.count < 1 || e.count > dl || (e.type !== RpmType.BIN && e.count > MAX_HEADER_ARRAY_COUNT)) {
      fail('rpm.header.entry-count', `${name} header: entry ${i} has bad count ${e.count}`, at + 12);
    }
    if (e.offset < 0 || e.offset > dl)
      fail(
        'rpm.header.entry-offset',
        `${name} header: entry ${i} offset ${e.offset} is outside the data`,
        at + 8,
      );
    if (e.offset % (TYPE_ALIGN[e.type] ?? 1) !== 0) {
      fail(
        'rpm.header.entry-alignment',
        `${name} header: entry ${i} offset ${e.offset} is misaligned for type ${e.type}`,
        at + 8,
      );
    }
    if (e.offset < end)
      fail(
        'rpm.header.entry-overlap',
        `${name} header: entry ${i} overlaps the previous entry's data`,
        at + 8,
      );
    if (kind.typeCheck) {
      const expected = MAIN_HEADER_TAG_TYPES.get(e.tag);
      if (
        expected !== undefined &&
        expected !== e.type &&
        !(STRING_CLASS.has(expected) && STRING_CLASS.has(e.type))
      ) {
        fail(
          'rpm.header.entry-type',
          `${name} header: tag ${e.tag} has type ${e.type}, rpm defines ${expected}`,
          at + 4,
        );
      }
    }
    const length = entryLength(e.type, e.count, data, e.offset, dl, name, i, base + dataStart);
    end = e.offset + length;
    if (end > regionDataLength - REGION_TRAILER_SIZE) {
      fail('rpm.header.region', `${name} header: entry ${i} overlaps the region trailer`, at + 8);
    }
    entries.push({ tag: e.tag, type: e.type, count: e.count, offset: e.offset, length });
  }
  return new RpmHeader(bytes, base, kind, entries, dataStart);
}

/** rpm's dataLength for on-disk data: strings must end with NUL inside the store. */
function entryLength(
  type: number,
  count: number,
  data: Uint8Array,
  offset: number,
  dl: number,
  name: string,
  index: number,
  dataBase: number,
): number {
  if (type === RpmType.STRING || type === RpmType.STRING_ARRAY || type === RpmType.I18NSTRING) {
    if (type === RpmType.STRING && count !== 1) {
      fail(
        'rpm.header.entry-count',
        `${name} header: entry ${index} is a STRING with count ${count}`,
        dataBase + offset,
      );
    }
    let p = offset;
    for (let n = 0; n < count; n++) {
      const nul = p < dl ? data.indexOf(0, p) : -1;
      if (nul === -1) {
        fail('rpm.header.string', `${name} header: entry ${index} has an unterminated string`, dataBase + p);
      }
      p = nul + 1;
    }
    return p - offset;
  }
  const length = (TYPE_SIZES[type] ?? 0) * count;
  if (length > dl - offset) {
    fail(
      'rpm.header.entry-size',
      `${name} header: entry ${index} data (${length} bytes) runs past the store`,
      dataBase + offset,
    );
  }
  return length;
}
