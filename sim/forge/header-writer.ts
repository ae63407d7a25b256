/**
 * Serialises an RPM header structure (docs/manual/format_header.md): 8-byte magic, index count,
 * data length, 16-byte index entries sorted by tag, then the data store. The first entry is the
 * region tag whose data, the 16-byte trailer at the end of the store, points back at the whole
 * index with a negative offset, as rpm's header.c writes an immutable region.
 */
import { RpmType, type RpmTypeCode } from './rpm-tags.ts';

export const HEADER_MAGIC = Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0);
const INDEX_ENTRY_SIZE = 16;
const REGION_TRAILER_SIZE = 16;

export type HeaderValue =
  | { readonly type: typeof RpmType.STRING; readonly value: string }
  | { readonly type: typeof RpmType.I18NSTRING; readonly value: string }
  | { readonly type: typeof RpmType.STRING_ARRAY; readonly value: readonly string[] }
  | { readonly type: typeof RpmType.BIN; readonly value: Uint8Array }
  | { readonly type: typeof RpmType.INT16; readonly value: readonly number[] }
  | { readonly type: typeof RpmType.INT32; readonly value: readonly number[] }
  | { readonly type: typeof RpmType.INT64; readonly value: readonly (number | bigint)[] };

export interface HeaderEntry {
  readonly tag: number;
  readonly data: HeaderValue;
}

const encoder = new TextEncoder();

function alignmentOf(type: RpmTypeCode): number {
  switch (type) {
    case RpmType.INT16:
      return 2;
    case RpmType.INT32:
      return 4;
    case RpmType.INT64:
      return 8;
    default:
      return 1;
  }
}

function cString(value: string): Uint8Array {
  if (value.includes('\0')) throw new Error('header string contains NUL');
  const bytes = encoder.encode(value);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

function encodeValue(v: HeaderValue): { bytes: Uint8Array; count: number } {
  switch (v.type) {
    case RpmType.STRING:
    case RpmType.I18NSTRING:
      return { bytes: cString(v.value), count: 1 };
    case RpmType.STRING_ARRAY: {
      const parts = v.value.map(cString);
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        bytes.set(p, at);
        at += p.length;
      }
      return { bytes, count: v.value.length };
    }
    case RpmType.BIN:
      return { bytes: v.value, count: v.value.length };
    case RpmType.INT16: {
      const bytes = new Uint8Array(v.value.length * 2);
      const view = new DataView(bytes.buffer);
      v.value.forEach((n, i) => view.setUint16(i * 2, n & 0xffff));
      return { bytes, count: v.value.length };
    }
    case RpmType.INT32: {
      const bytes = new Uint8Array(v.value.length * 4);
      const view = new DataView(bytes.buffer);
      v.value.forEach((n, i) => view.setUint32(i * 4, n >>> 0));
      return { bytes, count: v.value.length };
    }
    case RpmType.INT64: {
      const bytes = new Uint8Array(v.value.length * 8);
      const view = new DataView(bytes.buffer);
      v.value.forEach((n, i) => view.setBigUint64(i * 8, BigInt(n)));
      return { bytes, count: v.value.length };
    }
  }
}

/**
 * Encodes a header with an immutable region (`regionTag` 62 for the signature header, 63 for the
 * main header). Entries are sorted by tag and their data laid out in that order with each type's
 * natural alignment, which is what rpm's hdrblobVerifyInfo expects.
 */
export function encodeHeader(regionTag: number, entries: readonly HeaderEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.tag === sorted[i - 1]!.tag) throw new Error(`duplicate header tag ${sorted[i]!.tag}`);
  }
  if (sorted.length > 0 && sorted[0]!.tag <= regionTag) throw new Error('tag below the region tag');
  const il = sorted.length + 1;
  const chunks: Uint8Array[] = [];
  const index: { tag: number; type: number; offset: number; count: number }[] = [];
  let dl = 0;
  for (const entry of sorted) {
    const align = alignmentOf(entry.data.type);
    const pad = (align - (dl % align)) % align;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      dl += pad;
    }
    const { bytes, count } = encodeValue(entry.data);
    index.push({ tag: entry.tag, type: entry.data.type, offset: dl, count });
    chunks.push(bytes);
    dl += bytes.length;
  }
  const trailer = new Uint8Array(REGION_TRAILER_SIZE);
  const tv = new DataView(trailer.buffer);
  tv.setInt32(0, regionTag);
  tv.setInt32(4, RpmType.BIN);
  tv.setInt32(8, -(il * INDEX_ENTRY_SIZE));
  tv.setInt32(12, REGION_TRAILER_SIZE);
  index.unshift({ tag: regionTag, type: RpmType.BIN, offset: dl, count: REGION_TRAILER_SIZE });
  chunks.push(trailer);
  dl += REGION_TRAILER_SIZE;

  const out = new Uint8Array(16 + il * INDEX_ENTRY_SIZE + dl);
  const view = new DataView(out.buffer);
  out.set(HEADER_MAGIC, 0);
  view.setUint32(8, il);
  view.setUint32(12, dl);
  index.forEach((e, i) => {
    const at = 16 + i * INDEX_ENTRY_SIZE;
    view.setInt32(at, e.tag);
    view.setInt32(at + 4, e.type);
    view.setInt32(at + 8, e.offset);
    view.setInt32(at + 12, e.count);
  });
  let at = 16 + il * INDEX_ENTRY_SIZE;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Shorthands for building entries. */
export const h = {
  string: (tag: number, value: string): HeaderEntry => ({ tag, data: { type: RpmType.STRING, value } }),
  i18n: (tag: number, value: string): HeaderEntry => ({ tag, data: { type: RpmType.I18NSTRING, value } }),
  strings: (tag: number, value: readonly string[]): HeaderEntry => ({
    tag,
    data: { type: RpmType.STRING_ARRAY, value },
  }),
  bin: (tag: number, value: Uint8Array): HeaderEntry => ({ tag, data: { type: RpmType.BIN, value } }),
  int16: (tag: number, value: readonly number[]): HeaderEntry => ({
    tag,
    data: { type: RpmType.INT16, value },
  }),
  int32: (tag: number, value: readonly number[]): HeaderEntry => ({
    tag,
    data: { type: RpmType.INT32, value },
  }),
  int64: (tag: number, value: readonly (number | bigint)[]): HeaderEntry => ({
    tag,
    data: { type: RpmType.INT64, value },
  }),
};
