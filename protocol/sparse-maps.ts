/**
 * Readers of the three sparse map encodings GNU tar writes (GNU tar manual, "Tar Internals" and
 * "Storing Sparse Files"): old GNU header slots with extension blocks, pax 0.1's GNU.sparse.map,
 * and pax 1.0's decimal lines ahead of the data. Entries go through an ExtentCollector, which
 * enforces order, bounds and the entry limit as each one is read.
 */
import type { ByteSource } from './byte-source.ts';
import { ParseError } from './errors.ts';
import { parseDecimal, paxText, type PaxRecord } from './pax-header.ts';
import type { ExtentCollector } from './sparse-extents.ts';
import { MAX_MAP_LINE_DIGITS, type SparseTarLimits } from './sparse-limits.ts';
import {
  isEmptyField,
  isZeroBlock,
  OLDGNU_EXTENSION_ISEXTENDED_AT,
  OLDGNU_ISEXTENDED_AT,
  OLDGNU_SPARSE_AT,
  OLDGNU_SPARSES_IN_EXTENSION,
  OLDGNU_SPARSES_IN_HEADER,
  readNumber,
  SPARSE_ENTRY_WIDTH,
  TAR_BLOCK_SIZE,
  type TarHeader,
} from './tar-header.ts';

/**
 * Reads `count` map slots at `first`: filled slots, then (once a slot's numbytes is empty, which
 * is where GNU tar stops) only all-NUL slots. Returns true when every slot was filled.
 */
function readMapSlots(
  block: Uint8Array,
  blockOffset: number,
  first: number,
  count: number,
  collector: ExtentCollector,
): boolean {
  for (let i = 0; i < count; i++) {
    const slot = first + i * SPARSE_ENTRY_WIDTH;
    if (block[slot + 12] === 0) {
      if (!isEmptyField(block, slot, SPARSE_ENTRY_WIDTH * (count - i))) {
        throw new ParseError(
          'sparse.sparse-map',
          'sparse map slot after the end of the map',
          blockOffset + slot,
        );
      }
      return false;
    }
    collector.reserve(blockOffset + slot);
    const offset = readNumber(block, slot, 12, blockOffset);
    const length = readNumber(block, slot + 12, 12, blockOffset);
    collector.add(offset, length, blockOffset + slot);
  }
  return true;
}

function isExtendedFlag(block: Uint8Array, at: number, blockOffset: number): boolean {
  const flag = block[at];
  if (flag !== 0 && flag !== 1) {
    throw new ParseError('sparse.sparse-map', 'isextended flag is neither 0 nor 1', blockOffset + at);
  }
  return flag === 1;
}

/** The old GNU map: four slots in the header, then extension blocks while isextended is set. */
export async function readOldGnuMap(
  source: ByteSource,
  header: TarHeader,
  collector: ExtentCollector,
): Promise<void> {
  const full = readMapSlots(
    header.block,
    header.offset,
    OLDGNU_SPARSE_AT,
    OLDGNU_SPARSES_IN_HEADER,
    collector,
  );
  let extended = isExtendedFlag(header.block, OLDGNU_ISEXTENDED_AT, header.offset);
  if (extended && !full) {
    throw new ParseError(
      'sparse.sparse-map',
      'extension block announced after a short map',
      header.offset + OLDGNU_ISEXTENDED_AT,
    );
  }
  while (extended) {
    // Every pass adds at least one entry to the collector, which stops at its maximum, so a
    // chain of extension blocks that never ends is cut off after maxEntries / 21 blocks.
    const offset = source.offset;
    const block = await source.require(TAR_BLOCK_SIZE);
    if (block[12] === 0) throw new ParseError('sparse.sparse-map', 'empty sparse extension block', offset);
    const blockFull = readMapSlots(block, offset, 0, OLDGNU_SPARSES_IN_EXTENSION, collector);
    extended = isExtendedFlag(block, OLDGNU_EXTENSION_ISEXTENDED_AT, offset);
    if (extended && !blockFull) {
      throw new ParseError(
        'sparse.sparse-map',
        'extension block announced after a short map',
        offset + OLDGNU_EXTENSION_ISEXTENDED_AT,
      );
    }
    if (
      !isEmptyField(
        block,
        OLDGNU_EXTENSION_ISEXTENDED_AT + 1,
        TAR_BLOCK_SIZE - OLDGNU_EXTENSION_ISEXTENDED_AT - 1,
      )
    ) {
      throw new ParseError(
        'sparse.sparse-map',
        'sparse extension block padding is not zero',
        offset + OLDGNU_EXTENSION_ISEXTENDED_AT + 1,
      );
    }
  }
}

/** pax sparse 0.1: GNU.sparse.map=offset,size,offset,size,... */
export function readPaxMap01(
  record: PaxRecord,
  numblocks: number,
  collector: ExtentCollector,
  limits: SparseTarLimits,
): void {
  const text = paxText(record);
  const fields = text.length === 0 ? [] : text.split(',', 2 * limits.maxExtents + 1);
  if (fields.length !== 2 * numblocks) {
    throw new ParseError(
      'sparse.sparse-map',
      `GNU.sparse.map has ${fields.length} numbers for ${numblocks} entries`,
      record.offset,
    );
  }
  for (let i = 0; i < fields.length; i += 2) {
    collector.reserve(record.offset);
    const offset = parseDecimal(fields[i] ?? '', limits.maxImageSize, 'sparse.sparse-map', record.offset);
    const length = parseDecimal(fields[i + 1] ?? '', limits.maxImageSize, 'sparse.sparse-map', record.offset);
    collector.add(offset, length, record.offset);
  }
}

/**
 * pax sparse 1.0: the member data starts with the map as decimal lines (count, then offset and
 * size per entry), zero-padded to a block boundary. Returns the bytes the map occupies.
 */
export async function readPaxMap10(
  source: ByteSource,
  archivedSize: number,
  collector: ExtentCollector,
): Promise<number> {
  const start = source.offset;
  let block: Uint8Array = new Uint8Array(0);
  let position = 0;
  const nextLine = async (): Promise<number> => {
    let value = 0;
    let digits = 0;
    const lineAt = source.offset - block.length + position;
    for (;;) {
      if (position === block.length) {
        if (source.offset - start + TAR_BLOCK_SIZE > archivedSize) {
          throw new ParseError('sparse.sparse-map', 'pax 1.0 map runs past the member data', source.offset);
        }
        block = await source.require(TAR_BLOCK_SIZE);
        position = 0;
      }
      const c = block[position++] ?? 0;
      if (c === 0x0a) break;
      if (c < 0x30 || c > 0x39 || digits === MAX_MAP_LINE_DIGITS || (digits === 1 && value === 0)) {
        throw new ParseError(
          'sparse.sparse-map',
          'pax 1.0 map line is not a canonical decimal number',
          lineAt,
        );
      }
      value = value * 10 + (c - 0x30);
      digits++;
    }
    if (digits === 0) throw new ParseError('sparse.sparse-map', 'empty pax 1.0 map line', lineAt);
    return value;
  };
  const count = await nextLine();
  if (count > collector.maxEntries) {
    throw new ParseError(
      'sparse.extent-count',
      `sparse map of ${count} entries exceeds ${collector.maxEntries}`,
      start,
    );
  }
  for (let i = 0; i < count; i++) {
    const at = source.offset - block.length + position;
    collector.reserve(at);
    const offset = await nextLine();
    const length = await nextLine();
    collector.add(offset, length, at);
  }
  if (!isZeroBlock(block.subarray(position))) {
    throw new ParseError(
      'sparse.sparse-map',
      'pax 1.0 map padding is not zero',
      source.offset - block.length + position,
    );
  }
  return source.offset - start;
}
