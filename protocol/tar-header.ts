/**
 * One 512-byte tar header block, as GNU tar 1.34 writes it (GNU tar manual, "Basic Tar Format"
 * and "GNU Extensions"; POSIX.1-2017 pax "ustar Interchange Format").
 *
 * Only the fields the sparse image reader needs are decoded; every decoded number is checked
 * for canonical form, and the header checksum is verified before anything else is trusted.
 */
import { ParseError } from './errors.ts';

export const TAR_BLOCK_SIZE = 512;

/** Field offsets and widths shared by v7, ustar and GNU headers. */
const NAME = { at: 0, width: 100 } as const;
export const SIZE_FIELD = { at: 124, width: 12 } as const;
const CHECKSUM = { at: 148, width: 8 } as const;
const TYPEFLAG_AT = 156;
const MAGIC_AT = 257;
const PREFIX = { at: 345, width: 155 } as const;

/** GNU magic "ustar  \0" (magic and version fields run together) versus POSIX "ustar\0" "00". */
const GNU_MAGIC = new TextEncoder().encode('ustar  \0');
const POSIX_MAGIC = new TextEncoder().encode('ustar\x0000');

/** Old GNU sparse header ('S'): four (offset, numbytes) pairs at 386, isextended at 482, realsize at 483. */
export const OLDGNU_SPARSE_AT = 386;
export const OLDGNU_SPARSES_IN_HEADER = 4;
export const OLDGNU_ISEXTENDED_AT = 482;
export const OLDGNU_REALSIZE = { at: 483, width: 12 } as const;
/** Extension block: 21 pairs then isextended at 504 (GNU tar's `struct sparse_header`). */
export const OLDGNU_SPARSES_IN_EXTENSION = 21;
export const OLDGNU_EXTENSION_ISEXTENDED_AT = 504;
export const SPARSE_ENTRY_WIDTH = 24;

export type TarMagic = 'gnu' | 'posix';

export interface TarHeader {
  /** Byte offset of this block in the archive. */
  readonly offset: number;
  readonly block: Uint8Array;
  readonly typeflag: string;
  readonly magic: TarMagic;
  /** Raw name bytes: ustar prefix + '/' + name for POSIX headers, name alone for GNU ones. */
  readonly nameBytes: Uint8Array;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) {
    if (block[i] !== 0) return false;
  }
  return true;
}

function fieldEquals(block: Uint8Array, at: number, expected: Uint8Array): boolean {
  for (let i = 0; i < expected.length; i++) {
    if (block[at + i] !== expected[i]) return false;
  }
  return true;
}

/** Bytes of a NUL-terminated (or full-width) string field. */
export function cString(block: Uint8Array, at: number, width: number): Uint8Array {
  const field = block.subarray(at, at + width);
  const end = field.indexOf(0);
  return end === -1 ? field : field.subarray(0, end);
}

/**
 * A numeric field: octal digits then NUL/space terminators (what tar writes for values that fit
 * in width-1 digits), or GNU base-256 (first byte 0x80, big-endian) for values that do not.
 * Errors carry `blockOffset + at`.
 */
export function readNumber(block: Uint8Array, at: number, width: number, blockOffset: number): number {
  const first = block[at] ?? 0;
  if (first & 0x80) {
    if (first !== 0x80) {
      throw new ParseError('sparse.number', 'negative or oversized base-256 number', blockOffset + at);
    }
    let value = 0;
    for (let i = 1; i < width; i++) {
      // 2^53 / 256: one more byte would leave the range of exact integers.
      if (value >= 2 ** 45) {
        throw new ParseError('sparse.size-limit', 'base-256 number beyond 2^53', blockOffset + at);
      }
      value = value * 256 + (block[at + i] ?? 0);
    }
    if (value < 8 ** (width - 1)) {
      throw new ParseError(
        'sparse.number-non-canonical',
        'base-256 used for a value that fits in octal',
        blockOffset + at,
      );
    }
    return value;
  }
  let value = 0;
  let digits = 0;
  let i = 0;
  for (; i < width; i++) {
    const c = block[at + i] ?? 0;
    if (c < 0x30 || c > 0x37) break;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  if (digits === 0 || digits === width) {
    throw new ParseError('sparse.number', 'octal field without digits or terminator', blockOffset + at);
  }
  for (; i < width; i++) {
    const c = block[at + i];
    if (c !== 0 && c !== 0x20) {
      throw new ParseError('sparse.number', 'octal field with stray characters', blockOffset + at + i);
    }
  }
  return value;
}

/** True when every byte of the field is NUL. */
export function isEmptyField(block: Uint8Array, at: number, width: number): boolean {
  return isZeroBlock(block.subarray(at, at + width));
}

/**
 * Checks a non-zero header block: checksum (tar accepts the unsigned sum and, for historic
 * writers, the signed sum, with the checksum field counted as spaces) and magic.
 */
export function parseHeaderBlock(block: Uint8Array, offset: number): TarHeader {
  const stored = readNumber(block, CHECKSUM.at, CHECKSUM.width, offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) {
    const byte = i >= CHECKSUM.at && i < CHECKSUM.at + CHECKSUM.width ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 0x100 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new ParseError('sparse.header-checksum', 'tar header checksum mismatch', offset + CHECKSUM.at);
  }
  let magic: TarMagic;
  if (fieldEquals(block, MAGIC_AT, GNU_MAGIC)) magic = 'gnu';
  else if (fieldEquals(block, MAGIC_AT, POSIX_MAGIC)) magic = 'posix';
  else throw new ParseError('sparse.header-magic', 'neither GNU nor POSIX ustar magic', offset + MAGIC_AT);

  const name = cString(block, NAME.at, NAME.width);
  let nameBytes = name;
  if (magic === 'posix') {
    const prefix = cString(block, PREFIX.at, PREFIX.width);
    if (prefix.length > 0) {
      nameBytes = new Uint8Array(prefix.length + 1 + name.length);
      nameBytes.set(prefix, 0);
      nameBytes[prefix.length] = 0x2f;
      nameBytes.set(name, prefix.length + 1);
    }
  }
  return {
    offset,
    block,
    typeflag: String.fromCharCode(block[TYPEFLAG_AT] ?? 0),
    magic,
    nameBytes,
  };
}

/** The header's size field (bytes of data that follow, before padding to the block size). */
export function headerSize(header: TarHeader): number {
  return readNumber(header.block, SIZE_FIELD.at, SIZE_FIELD.width, header.offset);
}

/** Bytes of padding after `size` bytes of member data. */
export function paddingAfter(size: number): number {
  const rest = size % TAR_BLOCK_SIZE;
  return rest === 0 ? 0 : TAR_BLOCK_SIZE - rest;
}
