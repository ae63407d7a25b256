/**
 * The template forge's root-image archiver: what the Qubes builder gets from
 * `tar --sparse -cf - root.img | split -d -b 1G - root.img.part.`, streamed.
 *
 * Node cannot call lseek(SEEK_DATA/SEEK_HOLE), so data regions are found the way GNU tar does
 * with --hole-detection=raw: a 512-byte block is a hole when all its bytes are zero. The archive
 * for 'gnu-sparse' is then byte-identical to `tar --sparse --hole-detection=raw` (GNU tar 1.34)
 * given the same owner, mode and mtime. A caller that knows the regions passes `extents` and
 * the scan is skipped (multi-gigabyte sparse images stay cheap).
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { SparseExtent } from '../../protocol/sparse-tar.ts';
import { ForgeError } from './errors.ts';
import {
  BLOCK,
  endOfArchive,
  headerBlock,
  longNameBlocks,
  padToBlock,
  paxRecord,
  sparseExtensionBlock,
  utf8,
  type SparseSlot,
} from './tar-blocks.ts';

export type SparseTarWriterFormat = 'gnu-sparse' | 'pax-1.0' | 'plain';

export interface SparseTarWriterOptions {
  /** Name stored in the archive, e.g. "root.img" or the builder's long build path. */
  readonly memberName: string;
  readonly format: SparseTarWriterFormat;
  /** Data regions of the image, ordered and disjoint; found by scanning when absent. */
  readonly extents?: readonly SparseExtent[];
  /** Seconds since the epoch; defaults to the file's mtime. */
  readonly mtime?: number;
  /** Permission bits; default the file's. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly uname?: string;
  readonly gname?: string;
}

/** Bytes read from the image per read(2). */
const READ_CHUNK = 1024 * 1024;
/** Slots in the old GNU header and in each extension block. */
const SLOTS_IN_HEADER = 4;
const SLOTS_IN_EXTENSION = 21;
/** Longest name the ustar name field holds without a GNU long name. */
const NAME_FIELD = 100;

function isZero(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

/**
 * Data regions of `imagePath` at 512-byte granularity (GNU tar's sparse_scan_file_raw):
 * consecutive non-zero blocks merge into one region; the final partial block counts as a block.
 * Reads the file once in READ_CHUNK pieces.
 */
export async function findDataExtents(imagePath: string): Promise<SparseExtent[]> {
  const file = await open(imagePath, 'r');
  try {
    const size = (await file.stat()).size;
    const buffer = new Uint8Array(READ_CHUNK);
    const extents: SparseExtent[] = [];
    let runStart = -1;
    for (let position = 0; position < size;) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(READ_CHUNK, size - position), position);
      if (bytesRead === 0)
        throw new ForgeError('forge.image-size', `${imagePath} shrank while being scanned`);
      for (let at = 0; at < bytesRead; at += BLOCK) {
        const blockEnd = Math.min(at + BLOCK, bytesRead);
        if (isZero(buffer.subarray(at, blockEnd))) {
          if (runStart !== -1) {
            extents.push({ offset: runStart, length: position + at - runStart });
            runStart = -1;
          }
        } else if (runStart === -1) {
          runStart = position + at;
        }
      }
      position += bytesRead;
    }
    if (runStart !== -1) extents.push({ offset: runStart, length: size - runStart });
    return extents;
  } finally {
    await file.close();
  }
}

function checkExtents(extents: readonly SparseExtent[], size: number): void {
  let end = 0;
  for (const { offset, length } of extents) {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      length <= 0 ||
      offset < end ||
      offset + length > size
    ) {
      throw new ForgeError(
        'forge.bad-option',
        `bad extent ${offset}+${length} for an image of ${size} bytes`,
      );
    }
    end = offset + length;
  }
}

/** GNU tar's map: the regions, plus (size, 0) when the file ends with a hole (or is empty). */
function sparseMap(extents: readonly SparseExtent[], size: number): SparseSlot[] {
  const map: SparseSlot[] = extents.map(({ offset, length }) => ({ offset, length }));
  const last = extents.at(-1);
  if (last === undefined || last.offset + last.length < size) map.push({ offset: size, length: 0 });
  return map;
}

/** Streams the archive. The image must not change while it is read. */
export async function* writeSparseTar(
  imagePath: string,
  opts: SparseTarWriterOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const info = await stat(imagePath);
  const size = info.size;
  const extents =
    opts.format === 'plain'
      ? size > 0
        ? [{ offset: 0, length: size }]
        : []
      : (opts.extents ?? (await findDataExtents(imagePath)));
  checkExtents(extents, size);
  const dataSize = extents.reduce((sum, e) => sum + e.length, 0);
  const name = utf8(opts.memberName);
  const common = {
    mode: opts.mode ?? info.mode & 0o7777,
    uid: opts.uid ?? 0,
    gid: opts.gid ?? 0,
    mtime: opts.mtime ?? Math.floor(info.mtimeMs / 1000),
    uname: opts.uname ?? 'root',
    gname: opts.gname ?? 'root',
  };
  let written = 0;
  const emit = (bytes: Uint8Array): Uint8Array => {
    written += bytes.length;
    return bytes;
  };

  if (opts.format === 'pax-1.0') {
    // GNU tar's pax sparse 1.0 (xheader.c, sparse.c pax_dump_header_1): the real name and size
    // in GNU.sparse.* keywords, the map as decimal lines ahead of the data.
    const map = sparseMap(extents, size);
    const mapText =
      [String(map.length), ...map.flatMap((s) => [String(s.offset), String(s.length)])].join('\n') + '\n';
    const mapBlocks = padToBlock(utf8(mapText));
    const records = utf8(
      paxRecord('GNU.sparse.major', '1') +
        paxRecord('GNU.sparse.minor', '0') +
        paxRecord('GNU.sparse.name', opts.memberName) +
        paxRecord('GNU.sparse.realsize', String(size)) +
        paxRecord('mtime', String(common.mtime)),
    );
    const dir = path.posix.dirname(opts.memberName);
    const base = path.posix.basename(opts.memberName);
    const paxName = utf8(`${dir}/PaxHeaders/${base}`);
    const sparseName = utf8(`${dir}/GNUSparseFile.0/${base}`);
    yield emit(
      headerBlock({
        ...common,
        name: paxName,
        typeflag: 'x',
        size: records.length,
        magic: 'posix',
        uname: '',
        gname: '',
      }),
    );
    yield emit(padToBlock(records));
    yield emit(
      headerBlock({
        ...common,
        name: sparseName.length <= NAME_FIELD ? sparseName : name,
        typeflag: '0',
        size: mapBlocks.length + dataSize,
        magic: 'posix',
        deviceNumbers: true,
      }),
    );
    yield emit(mapBlocks);
  } else {
    if (name.length > NAME_FIELD) for (const block of longNameBlocks(name)) yield emit(block);
    if (opts.format === 'plain') {
      yield emit(headerBlock({ ...common, name, typeflag: '0', size, magic: 'gnu' }));
    } else {
      const map = sparseMap(extents, size);
      const first = map.slice(0, SLOTS_IN_HEADER);
      yield emit(
        headerBlock({
          ...common,
          name,
          typeflag: 'S',
          size: dataSize,
          magic: 'gnu',
          sparse: { slots: first, isExtended: map.length > SLOTS_IN_HEADER, realSize: size },
        }),
      );
      for (let i = SLOTS_IN_HEADER; i < map.length; i += SLOTS_IN_EXTENSION) {
        const slots = map.slice(i, i + SLOTS_IN_EXTENSION);
        yield emit(sparseExtensionBlock(slots, i + SLOTS_IN_EXTENSION < map.length));
      }
    }
  }

  yield* readRegions(imagePath, extents, (n) => (written += n));
  const tail = (BLOCK - (dataSize % BLOCK)) % BLOCK;
  if (tail > 0) yield emit(new Uint8Array(tail));
  yield endOfArchive(written);
}

/** The bytes of each region in turn, in READ_CHUNK pieces (each a fresh buffer). */
async function* readRegions(
  imagePath: string,
  extents: readonly SparseExtent[],
  count: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  const file = await open(imagePath, 'r');
  try {
    for (const { offset, length } of extents) {
      for (let done = 0; done < length;) {
        const want = Math.min(READ_CHUNK, length - done);
        const buffer = new Uint8Array(want);
        const { bytesRead } = await file.read(buffer, 0, want, offset + done);
        if (bytesRead !== want)
          throw new ForgeError('forge.image-size', `${imagePath} shrank while being archived`);
        count(want);
        yield buffer;
        done += want;
      }
    }
  } finally {
    await file.close();
  }
}
