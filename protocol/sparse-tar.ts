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
 */
import { ByteSource } from './byte-source.ts';
import { ParseError } from './errors.ts';
import { parseDecimal, parsePaxRecords, paxText, type PaxRecord } from './pax-header.ts';
import { ExtentCollector, type SparseExtent } from './sparse-extents.ts';
import {
  headerSize,
  isEmptyField,
  isZeroBlock,
  OLDGNU_EXTENSION_ISEXTENDED_AT,
  OLDGNU_ISEXTENDED_AT,
  OLDGNU_REALSIZE,
  OLDGNU_SPARSE_AT,
  OLDGNU_SPARSES_IN_EXTENSION,
  OLDGNU_SPARSES_IN_HEADER,
  paddingAfter,
  parseHeaderBlock,
  readNumber,
  SPARSE_ENTRY_WIDTH,
  TAR_BLOCK_SIZE,
  type TarHeader,
} from './tar-header.ts';

export type { SparseExtent } from './sparse-extents.ts';

/** Largest real (expanded) image size accepted: 1 TiB. */
export const MAX_IMAGE_SIZE = 2 ** 40;
/**
 * Most sparse map entries accepted. GNU tar maps a data region per filesystem extent, so a
 * 20 GiB ext4 root image has thousands; 2^18 entries keep the map under ~16 MiB in memory.
 */
export const MAX_SPARSE_EXTENTS = 2 ** 18;
/** Largest GNU long name ('L' member data, NUL included); Linux PATH_MAX. */
export const MAX_LONG_NAME_SIZE = 4096;
/** Largest pax extended header ('x' member data); bounds pax 0.0/0.1 maps too. */
export const MAX_PAX_HEADER_SIZE = 2 ** 20;
/** Zero bytes accepted after the two end-of-archive blocks (GNU tar pads to its record size, 10240 by default). */
export const MAX_END_PADDING = 2 ** 20;
/** Digits of one pax 1.0 map line (a decimal offset below 2^53 has at most 16). */
const MAX_MAP_LINE_DIGITS = 16;

export type SparseTarFormat = 'gnu-sparse' | 'pax-0.0' | 'pax-0.1' | 'pax-1.0' | 'plain';

/** Stable error codes of this reader (ParseError.code). */
export type SparseTarErrorCode =
  | 'sparse.truncated'
  | 'sparse.no-member'
  | 'sparse.second-member'
  | 'sparse.trailing-garbage'
  | 'sparse.end-padding'
  | 'sparse.header-checksum'
  | 'sparse.header-magic'
  | 'sparse.number'
  | 'sparse.number-non-canonical'
  | 'sparse.size-limit'
  | 'sparse.member-link'
  | 'sparse.member-device'
  | 'sparse.member-directory'
  | 'sparse.member-fifo'
  | 'sparse.member-type'
  | 'sparse.name'
  | 'sparse.long-name'
  | 'sparse.pax-size'
  | 'sparse.pax-record'
  | 'sparse.pax-value'
  | 'sparse.pax-keyword'
  | 'sparse.pax-conflict'
  | 'sparse.pax-global'
  | 'sparse.sparse-version'
  | 'sparse.sparse-map'
  | 'sparse.extent-count'
  | 'sparse.extent-order'
  | 'sparse.extent-overlap'
  | 'sparse.extent-past-size'
  | 'sparse.extent-size-mismatch';

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

interface Limits {
  readonly maxImageSize: number;
  readonly maxExtents: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function* readSparseTar(
  input: AsyncIterable<Uint8Array>,
  options: SparseTarOptions = {},
): AsyncGenerator<SparseTarEvent, void, undefined> {
  const limits: Limits = {
    maxImageSize: Math.min(options.maxImageSize ?? MAX_IMAGE_SIZE, MAX_IMAGE_SIZE),
    maxExtents: Math.min(options.maxExtents ?? MAX_SPARSE_EXTENTS, MAX_SPARSE_EXTENTS),
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
  limits: Limits,
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

/** The pax keywords this reader acts on; see interpretPax. */
interface PaxInfo {
  path?: string;
  size?: number;
  major?: number;
  minor?: number;
  sparseName?: string;
  realsize?: number;
  sparseSize?: number;
  numblocks?: number;
  map?: PaxRecord;
  /** GNU.sparse.offset / GNU.sparse.numbytes pairs of pax sparse 0.0, in record order. */
  pairs: { offset: number; numbytes: number; at: number }[];
  anySparse: boolean;
}

/** Keywords that GNU tar defines but that would change how the archive reads (multi-volume, dumpdir). */
const REFUSED_GNU_PREFIX = 'GNU.';

function interpretPax(records: readonly PaxRecord[], limits: Limits): PaxInfo {
  const info: PaxInfo = { pairs: [], anySparse: false };
  const seen = new Set<string>();
  let pendingOffset: { value: number; at: number } | null = null;
  const maxArchived = limits.maxImageSize + MAX_PAX_HEADER_SIZE;
  for (const record of records) {
    const { keyword, offset: at } = record;
    const repeatable = keyword === 'GNU.sparse.offset' || keyword === 'GNU.sparse.numbytes';
    if (!repeatable) {
      if (seen.has(keyword))
        throw new ParseError('sparse.pax-conflict', `pax keyword ${keyword} repeated`, at);
      seen.add(keyword);
    }
    if (keyword.startsWith('GNU.sparse.')) info.anySparse = true;
    const decimal = (max: number): number => parseDecimal(paxText(record), max, 'sparse.pax-value', at);
    switch (keyword) {
      case 'path':
        info.path = paxText(record);
        break;
      case 'size':
        info.size = decimal(maxArchived);
        break;
      case 'GNU.sparse.major':
        info.major = decimal(9);
        break;
      case 'GNU.sparse.minor':
        info.minor = decimal(9);
        break;
      case 'GNU.sparse.name':
        info.sparseName = paxText(record);
        break;
      case 'GNU.sparse.realsize':
        info.realsize = decimal(limits.maxImageSize);
        break;
      case 'GNU.sparse.size':
        info.sparseSize = decimal(limits.maxImageSize);
        break;
      case 'GNU.sparse.numblocks': {
        const n = parseDecimal(paxText(record), Number.MAX_SAFE_INTEGER, 'sparse.pax-value', at);
        if (n > limits.maxExtents) {
          throw new ParseError(
            'sparse.extent-count',
            `sparse map of ${n} entries exceeds ${limits.maxExtents}`,
            at,
          );
        }
        info.numblocks = n;
        break;
      }
      case 'GNU.sparse.map':
        info.map = record;
        break;
      case 'GNU.sparse.offset':
        if (pendingOffset !== null)
          throw new ParseError('sparse.sparse-map', 'GNU.sparse.offset without numbytes', at);
        pendingOffset = { value: decimal(limits.maxImageSize), at };
        break;
      case 'GNU.sparse.numbytes':
        if (pendingOffset === null)
          throw new ParseError('sparse.sparse-map', 'GNU.sparse.numbytes without offset', at);
        if (info.pairs.length >= limits.maxExtents) {
          throw new ParseError('sparse.extent-count', `sparse map exceeds ${limits.maxExtents} entries`, at);
        }
        info.pairs.push({
          offset: pendingOffset.value,
          numbytes: decimal(limits.maxImageSize),
          at: pendingOffset.at,
        });
        pendingOffset = null;
        break;
      default:
        if (keyword.startsWith(REFUSED_GNU_PREFIX)) {
          throw new ParseError('sparse.pax-keyword', `pax keyword ${keyword} refused`, at);
        }
      // Other keywords (mtime, atime, ctime, uid, gid, uname, gname, SCHILY.*, ...) do not
      // affect the image bytes; POSIX says unknown keywords are ignored.
    }
  }
  if (pendingOffset !== null) {
    throw new ParseError('sparse.sparse-map', 'GNU.sparse.offset without numbytes', pendingOffset.at);
  }
  return info;
}

function sparseFormatOf(info: PaxInfo, at: number): 'pax-0.0' | 'pax-0.1' | 'pax-1.0' {
  const conflict = (what: string): never => {
    throw new ParseError('sparse.pax-conflict', what, at);
  };
  let format: 'pax-0.0' | 'pax-0.1' | 'pax-1.0';
  if (info.major !== undefined || info.minor !== undefined) {
    const version = `${info.major ?? '?'}.${info.minor ?? '?'}`;
    if (version === '1.0') format = 'pax-1.0';
    else if (version === '0.1') format = 'pax-0.1';
    else if (version === '0.0') format = 'pax-0.0';
    else throw new ParseError('sparse.sparse-version', `unsupported pax sparse version ${version}`, at);
  } else if (info.map !== undefined) format = 'pax-0.1';
  else if (info.numblocks !== undefined || info.pairs.length > 0) format = 'pax-0.0';
  else throw new ParseError('sparse.sparse-version', 'GNU.sparse keywords without a sparse map', at);

  const hasPairs = info.pairs.length > 0;
  if (format === 'pax-1.0') {
    if (info.realsize === undefined) conflict('pax sparse 1.0 without GNU.sparse.realsize');
    if (info.sparseSize !== undefined || info.numblocks !== undefined || info.map !== undefined || hasPairs) {
      conflict('pax sparse 1.0 with 0.x map keywords');
    }
  } else {
    if (info.sparseSize === undefined || info.numblocks === undefined) {
      conflict('pax sparse 0.x without GNU.sparse.size and GNU.sparse.numblocks');
    }
    if (info.realsize !== undefined) conflict('pax sparse 0.x with GNU.sparse.realsize');
    if (format === 'pax-0.1' && (info.map === undefined || hasPairs))
      conflict('pax sparse 0.1 needs exactly GNU.sparse.map');
    if (format === 'pax-0.0' && info.map !== undefined) conflict('pax sparse 0.0 with GNU.sparse.map');
  }
  return format;
}

async function readRegularMember(
  source: ByteSource,
  header: TarHeader,
  longName: Uint8Array | null,
  records: readonly PaxRecord[],
  limits: Limits,
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

function checkImageSize(size: number, limits: Limits, at: number): void {
  if (size > limits.maxImageSize) {
    throw new ParseError('sparse.size-limit', `image of ${size} bytes exceeds ${limits.maxImageSize}`, at);
  }
}

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
async function readOldGnuMap(
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
function readPaxMap01(
  record: PaxRecord,
  numblocks: number,
  collector: ExtentCollector,
  limits: Limits,
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
async function readPaxMap10(
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
