/**
 * Tar header blocks laid out byte for byte as GNU tar 1.34 writes them in its default "gnu"
 * format and in --format=posix (GNU tar manual, "Tar Internals"). Used by the sparse tar writer
 * and, with deliberately broken inputs, by the hostile archive generator.
 */

export const BLOCK = 512;
/** GNU tar's default record: 20 blocks. Archives end padded with zeros to a whole record. */
export const RECORD = 20 * BLOCK;

const encoder = new TextEncoder();

export interface SparseSlot {
  readonly offset: number;
  readonly length: number;
}

export interface HeaderFields {
  readonly name: Uint8Array;
  readonly typeflag: string;
  readonly size: number;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: number;
  readonly uname?: string;
  readonly gname?: string;
  readonly magic: 'gnu' | 'posix';
  /** POSIX headers of regular files carry "0000000" device numbers; GNU ones leave them empty. */
  readonly deviceNumbers?: boolean;
  /** Old GNU sparse ('S') fields. */
  readonly sparse?: {
    readonly slots: readonly SparseSlot[];
    readonly isExtended: boolean;
    readonly realSize: number;
  };
}

/**
 * A numeric field as GNU tar's to_chars writes it: width-1 zero-padded octal digits and a NUL,
 * or, when the value does not fit, base-256 (0x80 then big-endian bytes).
 */
export function putNumber(block: Uint8Array, at: number, width: number, value: number): void {
  if (value < 8 ** (width - 1)) {
    block.set(encoder.encode(value.toString(8).padStart(width - 1, '0')), at);
    block[at + width - 1] = 0;
    return;
  }
  let rest = value;
  for (let i = width - 1; i >= 1; i--) {
    block[at + i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  block[at] = 0x80;
}

function putString(block: Uint8Array, at: number, width: number, text: Uint8Array | string): void {
  const bytes = typeof text === 'string' ? encoder.encode(text) : text;
  block.set(bytes.subarray(0, width), at);
}

/** Unsigned sum of the block with the checksum field counted as spaces, stored "%06o\0 ". */
export function putChecksum(block: Uint8Array): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.set(encoder.encode(sum.toString(8).padStart(6, '0')), 148);
  block[154] = 0;
  block[155] = 0x20;
}

export function putSparseSlots(block: Uint8Array, at: number, slots: readonly SparseSlot[]): void {
  slots.forEach((slot, i) => {
    putNumber(block, at + i * 24, 12, slot.offset);
    putNumber(block, at + i * 24 + 12, 12, slot.length);
  });
}

export function headerBlock(fields: HeaderFields): Uint8Array {
  const block = new Uint8Array(BLOCK);
  putString(block, 0, 100, fields.name);
  putNumber(block, 100, 8, fields.mode ?? 0o644);
  putNumber(block, 108, 8, fields.uid ?? 0);
  putNumber(block, 116, 8, fields.gid ?? 0);
  putNumber(block, 124, 12, fields.size);
  putNumber(block, 136, 12, fields.mtime ?? 0);
  block[156] = fields.typeflag.charCodeAt(0);
  putString(block, 257, 8, fields.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000');
  putString(block, 265, 32, fields.uname ?? '');
  putString(block, 297, 32, fields.gname ?? '');
  if (fields.deviceNumbers === true) {
    putNumber(block, 329, 8, 0);
    putNumber(block, 337, 8, 0);
  }
  if (fields.sparse) {
    putSparseSlots(block, 386, fields.sparse.slots);
    block[482] = fields.sparse.isExtended ? 1 : 0;
    putNumber(block, 483, 12, fields.sparse.realSize);
  }
  putChecksum(block);
  return block;
}

/** An old GNU sparse extension block: up to 21 slots, isextended at 504. */
export function sparseExtensionBlock(slots: readonly SparseSlot[], isExtended: boolean): Uint8Array {
  const block = new Uint8Array(BLOCK);
  putSparseSlots(block, 0, slots);
  block[504] = isExtended ? 1 : 0;
  return block;
}

/** `bytes` followed by zeros up to a block boundary. */
export function padToBlock(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / BLOCK) * BLOCK);
  padded.set(bytes);
  return padded;
}

/** GNU tar's ././@LongLink 'L' member carrying `name` and its NUL (write_gnu_long_link). */
export function longNameBlocks(name: Uint8Array): Uint8Array[] {
  const data = new Uint8Array(name.length + 1);
  data.set(name);
  const header = headerBlock({
    name: encoder.encode('././@LongLink'),
    typeflag: 'L',
    size: data.length,
    magic: 'gnu',
    uname: 'root',
    gname: 'root',
  });
  return [header, padToBlock(data)];
}

/** One pax record, "%d %s=%s\n", whose length prefix counts itself. */
export function paxRecord(keyword: string, value: string): string {
  const body = ` ${keyword}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return `${length}${body}`;
}

/** End of archive: two zero blocks, then zeros up to a whole record of the `written` bytes so far. */
export function endOfArchive(written: number): Uint8Array {
  const total = written + 2 * BLOCK;
  return new Uint8Array(2 * BLOCK + ((RECORD - (total % RECORD)) % RECORD));
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}
