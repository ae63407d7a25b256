/**
 * Strict streaming reader of the root-image tar inside a template package: one tar holding one
 * regular member (`tar --sparse -cf - root.img | split -d -b 1G - root.img.part.`), as GNU tar
 * 1.34 writes it in old GNU sparse form ('S'), pax sparse 0.0, 0.1 or 1.0, or as a plain member.
 * References: GNU tar manual, appendix "Tar Internals" (old GNU sparse headers) and "Storing
 * Sparse Files" (GNU.sparse.* keywords); POSIX.1-2017 pax.
 *
 * It yields one `member` event with the validated sparse map, then `data` events in increasing
 * offset order, then checks the end of the archive. Holes never materialise: consumers that need
 * every byte use `denseImageStream`. A consumer must iterate to the end: the end-of-archive checks
 * (no second member, no trailing garbage) run after the last data event.
 *
 * Over 300 lines: one streaming state machine over the tar's records; the header, pax and map
 * parsers it calls have their own files.
 */
import { ByteSource } from './byte-source.ts';
import { ParseError } from './errors.ts';
import { parsePaxRecords, type PaxRecord } from './pax-header.ts';
import { ExtentCollector, type SparseExtent } from './sparse-extents.ts';
import {
  MAX_IMAGE_SIZE,
  MAX_LONG_NAME_SIZE,
  MAX_PAX_HEADER_SIZE,
  MAX_SPARSE_EXTENTS,
  MAX_END_PADDING,
  type SparseTarLimits,
} from './sparse-limits.ts';
import { readOldGnuMap, readPaxMap01, readPaxMap10 } from './sparse-maps.ts';
import { interpretPax, sparseFormatOf } from './sparse-pax.ts';
import {
  headerSize,
  isZeroBlock,
  OLDGNU_REALSIZE,
  paddingAfter,
  parseHeaderBlock,
  readNumber,
  TAR_BLOCK_SIZE,
  type TarHeader,
} from './tar-header.ts';

export type { SparseExtent } from './sparse-extents.ts';
export {
  MAX_IMAGE_SIZE,
  MAX_SPARSE_EXTENTS,
  MAX_LONG_NAME_SIZE,
  MAX_PAX_HEADER_SIZE,
  MAX_END_PADDING,
} from './sparse-limits.ts';
import type { SparseTarErrorCode } from './error-codes.ts';
export type { SparseTarErrorCode };

export type SparseTarFormat = 'gnu-sparse' | 'pax-0.0' | 'pax-0.1' | 'pax-1.0' | 'plain';

export interface SparseMemberEvent {
  readonly type: 'member';
  /** Member name as archived (informational: Qubes does not rely on it). */
  readonly name: string;
  readonly format: SparseTarFormat;
  /** Size of the expanded image. */
  readonly realSize: number;
  /** Non-empty data regions, ordered, non-overlapping, within realSize. */
  readonly extents: readonly SparseExtent[];
}

export interface SparseDataEvent {
  readonly type: 'data';
  /** Offset in the expanded image. */
  readonly offset: number;
  /** A view of the input chunk; never crosses an extent boundary. */
  readonly bytes: Uint8Array;
}

export type SparseTarEvent = SparseMemberEvent | SparseDataEvent;

export interface SparseTarOptions {
  /** Defaults to MAX_IMAGE_SIZE. */
  readonly maxImageSize?: number;
  /** Defaults to MAX_SPARSE_EXTENTS. */
  readonly maxExtents?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A caller's limit: a non-negative integer, never above the named maximum (NaN would disable checks). */
function lowered(value: number | undefined, maximum: number): number {
  if (value === undefined) return maximum;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad sparse tar limit ${value}`);
  return Math.min(value, maximum);
}

export async function* readSparseTar(
  input: AsyncIterable<Uint8Array>,
  options: SparseTarOptions = {},
): AsyncGenerator<SparseTarEvent, void, undefined> {
  const limits: SparseTarLimits = {
    maxImageSize: lowered(options.maxImageSize, MAX_IMAGE_SIZE),
    maxExtents: lowered(options.maxExtents, MAX_SPARSE_EXTENTS),
  };
  const source = new ByteSource(input);
  try {
    const { event, archivedSize } = await readMember(source, limits);
    yield event;
    for (const extent of event.extents) {
      let offset = extent.offset;
      for await (const bytes of source.span(extent.length)) {
        yield { type: 'data', offset, bytes };
        offset += bytes.length;
      }
    }
    await source.skip(paddingAfter(archivedSize));
    await readEndOfArchive(source);
  } finally {
    await source.close();
  }
}

/** Reads header blocks up to and including the member's header and sparse map. */
async function readMember(
  source: ByteSource,
  limits: SparseTarLimits,
): Promise<{ event: SparseMemberEvent; archivedSize: number }> {
  let longName: Uint8Array | null = null;
  let pax: PaxRecord[] | null = null;
  for (;;) {
    const offset = source.offset;
    const block = await source.readExact(TAR_BLOCK_SIZE);
    if (block === null || isZeroBlock(block)) {
      const pending = longName !== null || pax !== null;
      throw new ParseError(
        block === null && offset > 0 ? 'sparse.truncated' : 'sparse.no-member',
        pending ? 'extension header without a member' : 'archive holds no member',
        offset,
      );
    }
    const header = parseHeaderBlock(block, offset);
    switch (header.typeflag) {
      case 'L': {
        if (header.magic !== 'gnu') {
          throw new ParseError('sparse.header-magic', "GNU long name ('L') without GNU magic", offset);
        }
        if (pax !== null)
          throw new ParseError('sparse.pax-conflict', 'GNU long name after a pax header', offset);
        if (longName !== null) throw new ParseError('sparse.long-name', 'second GNU long name', offset);
        longName = await readLongName(source, header);
        continue;
      }
      case 'x': {
        if (longName !== null)
          throw new ParseError('sparse.pax-conflict', 'pax header after a GNU long name', offset);
        if (pax !== null) throw new ParseError('sparse.pax-conflict', 'second pax header', offset);
        const size = headerSize(header);
        if (size > MAX_PAX_HEADER_SIZE) {
          throw new ParseError(
            'sparse.pax-size',
            `pax header of ${size} bytes exceeds ${MAX_PAX_HEADER_SIZE}`,
            offset,
          );
        }
        const dataOffset = source.offset;
        const data = size === 0 ? new Uint8Array(0) : await source.require(size);
        await source.skip(paddingAfter(size));
        pax = parsePaxRecords(data, dataOffset);
        continue;
      }
      case 'g':
        // Global headers change the meaning of every later member; nothing that makes template
        // images writes them, so they are refused rather than half-honoured.
        throw new ParseError('sparse.pax-global', 'pax global header refused', offset);
      case '1':
      case '2':
      case 'K':
        throw new ParseError('sparse.member-link', 'link member refused', offset);
      case '3':
      case '4':
        throw new ParseError('sparse.member-device', 'device member refused', offset);
      case '5':
      case 'D':
        throw new ParseError('sparse.member-directory', 'directory member refused', offset);
      case '6':
        throw new ParseError('sparse.member-fifo', 'FIFO member refused', offset);
      case '0':
      case '\0':
      case 'S':
        return readRegularMember(source, header, longName, pax ?? [], limits);
      default:
        throw new ParseError(
          'sparse.member-type',
          `member type ${JSON.stringify(header.typeflag)} refused`,
          offset,
        );
    }
  }
}

async function readLongName(source: ByteSource, header: TarHeader): Promise<Uint8Array> {
  const size = headerSize(header);
  if (size < 2 || size > MAX_LONG_NAME_SIZE) {
    throw new ParseError(
      'sparse.long-name',
      `long name of ${size} bytes (allowed 2..${MAX_LONG_NAME_SIZE})`,
      header.offset,
    );
  }
  const dataOffset = source.offset;
  const data = await source.require(size);
  await source.skip(paddingAfter(size));
  const end = data.indexOf(0);
  // GNU tar stores the name and one NUL; the size counts the NUL.
  if (end !== size - 1) {
    throw new ParseError(
      'sparse.long-name',
      'long name is not one NUL-terminated string',
      dataOffset + Math.max(end, 0),
    );
  }
  return data.slice(0, end);
}

function decodeName(bytes: Uint8Array, at: number): string {
  if (bytes.length === 0) throw new ParseError('sparse.name', 'empty member name', at);
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new ParseError('sparse.name', 'member name is not UTF-8', at, { cause });
  }
}

async function readRegularMember(
  source: ByteSource,
  header: TarHeader,
  longName: Uint8Array | null,
  records: readonly PaxRecord[],
  limits: SparseTarLimits,
): Promise<{ event: SparseMemberEvent; archivedSize: number }> {
  const at = header.offset;
  const info = interpretPax(records, limits);
  const archivedSize = info.size ?? headerSize(header);
  if (archivedSize > limits.maxImageSize + MAX_PAX_HEADER_SIZE) {
    throw new ParseError('sparse.size-limit', `member of ${archivedSize} bytes`, at);
  }
  let name: string;
  if (info.sparseName !== undefined && info.path !== undefined && info.sparseName !== info.path) {
    throw new ParseError('sparse.pax-conflict', 'GNU.sparse.name and path disagree', at);
  }
  if (info.sparseName !== undefined || info.path !== undefined) {
    name = info.sparseName ?? info.path ?? '';
    if (name.length === 0) throw new ParseError('sparse.name', 'empty member name', at);
  } else {
    name = decodeName(longName ?? header.nameBytes, at);
  }

  let format: SparseTarFormat;
  let collector: ExtentCollector;
  let mapBytes = 0;
  if (header.typeflag === 'S') {
    if (header.magic !== 'gnu')
      throw new ParseError('sparse.header-magic', "old GNU sparse ('S') without GNU magic", at);
    if (info.anySparse)
      throw new ParseError(
        'sparse.pax-conflict',
        "GNU.sparse keywords on an old GNU sparse ('S') member",
        at,
      );
    format = 'gnu-sparse';
    const realSize = readNumber(header.block, OLDGNU_REALSIZE.at, OLDGNU_REALSIZE.width, at);
    checkImageSize(realSize, limits, at + OLDGNU_REALSIZE.at);
    collector = new ExtentCollector(realSize, limits.maxExtents);
    await readOldGnuMap(source, header, collector);
  } else if (info.anySparse) {
    format = sparseFormatOf(info, at);
    const realSize = (format === 'pax-1.0' ? info.realsize : info.sparseSize) ?? 0;
    checkImageSize(realSize, limits, at);
    collector = new ExtentCollector(realSize, limits.maxExtents);
    if (format === 'pax-0.0') {
      for (const pair of info.pairs) collector.push(pair.offset, pair.numbytes, pair.at);
      if (info.pairs.length !== info.numblocks) {
        throw new ParseError(
          'sparse.sparse-map',
          `GNU.sparse.numblocks says ${info.numblocks}, map has ${info.pairs.length}`,
          at,
        );
      }
    } else if (format === 'pax-0.1' && info.map !== undefined) {
      readPaxMap01(info.map, info.numblocks ?? 0, collector, limits);
    } else {
      mapBytes = await readPaxMap10(source, archivedSize, collector);
    }
  } else {
    format = 'plain';
    checkImageSize(archivedSize, limits, at);
    collector = new ExtentCollector(archivedSize, 1);
    collector.push(0, archivedSize, at);
  }
  if (collector.dataSize !== archivedSize - mapBytes) {
    throw new ParseError(
      'sparse.extent-size-mismatch',
      `sparse map covers ${collector.dataSize} bytes but the member stores ${archivedSize - mapBytes}`,
      at,
    );
  }
  return {
    event: { type: 'member', name, format, realSize: collector.realSize, extents: collector.extents },
    archivedSize,
  };
}

function checkImageSize(size: number, limits: SparseTarLimits, at: number): void {
  if (size > limits.maxImageSize) {
    throw new ParseError('sparse.size-limit', `image of ${size} bytes exceeds ${limits.maxImageSize}`, at);
  }
}

/**
 * After the member: two zero blocks, then only zero padding up to the writer's record size,
 * a whole number of blocks, then the end of input.
 */
async function readEndOfArchive(source: ByteSource): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const offset = source.offset;
    const block = await source.readExact(TAR_BLOCK_SIZE);
    if (block === null) {
      throw new ParseError('sparse.truncated', 'archive ends without its two end-of-archive blocks', offset);
    }
    if (!isZeroBlock(block)) {
      let validHeader = false;
      try {
        parseHeaderBlock(block, offset);
        validHeader = true;
      } catch {
        // Not a header at all: garbage, reported below.
      }
      if (validHeader) throw new ParseError('sparse.second-member', 'archive holds a second member', offset);
      throw new ParseError('sparse.trailing-garbage', 'non-zero bytes after the member', offset);
    }
  }
  let padding = 0;
  for (;;) {
    const offset = source.offset;
    const chunk = await source.readSome(TAR_BLOCK_SIZE);
    if (chunk === null) break;
    const nonZero = chunk.findIndex((byte) => byte !== 0);
    if (nonZero !== -1) {
      throw new ParseError(
        'sparse.trailing-garbage',
        'non-zero bytes after the end of the archive',
        offset + nonZero,
      );
    }
    padding += chunk.length;
    if (padding > MAX_END_PADDING) {
      throw new ParseError('sparse.end-padding', `more than ${MAX_END_PADDING} bytes of padding`, offset);
    }
  }
  if (padding % TAR_BLOCK_SIZE !== 0) {
    throw new ParseError(
      'sparse.trailing-garbage',
      'archive does not end on a block boundary',
      source.offset,
    );
  }
}
