/**
 * Malformed root-image tars for the reader's malformed tests and the end-to-end security tests:
 * each is what a subverted builder or a tampered package could hand the orchestrator, with the
 * stable ParseError code the reader must refuse it with.
 *
 * Over 300 lines: a catalogue of hostile inputs, one small builder each.
 */
import { MAX_SPARSE_EXTENTS, type SparseTarErrorCode } from '../../protocol/sparse-tar.ts';
import {
  BLOCK,
  endOfArchive,
  headerBlock,
  longNameBlocks,
  padToBlock,
  paxRecord,
  putChecksum,
  sparseExtensionBlock,
  utf8,
  type HeaderFields,
  type SparseSlot,
} from './tar-blocks.ts';

export interface HostileSparseTar {
  readonly name: string;
  /** The code readSparseTar must fail with. */
  readonly code: SparseTarErrorCode;
  readonly bytes: Uint8Array;
}

const ROOT = utf8('root.img');
const REAL_SIZE = 64 * 1024;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Complete archive: the given blocks, then end-of-archive padding to a record. */
function archive(...parts: Uint8Array[]): Uint8Array {
  const body = concat(parts);
  return concat([body, endOfArchive(body.length)]);
}

function filler(length: number, byte = 0x41): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

/** An old GNU sparse member with the given map (slots beyond 4 go to extension blocks). */
function gnuSparse(
  slots: readonly SparseSlot[],
  options: { realSize?: number; size?: number } = {},
): Uint8Array {
  const dataSize = options.size ?? slots.reduce((n, s) => n + s.length, 0);
  const blocks = [
    headerBlock({
      name: ROOT,
      typeflag: 'S',
      size: dataSize,
      magic: 'gnu',
      uname: 'root',
      gname: 'root',
      sparse: {
        slots: slots.slice(0, 4),
        isExtended: slots.length > 4,
        realSize: options.realSize ?? REAL_SIZE,
      },
    }),
  ];
  for (let i = 4; i < slots.length; i += 21)
    blocks.push(sparseExtensionBlock(slots.slice(i, i + 21), i + 21 < slots.length));
  blocks.push(padToBlock(filler(dataSize)));
  return concat(blocks);
}

function member(
  fields: Partial<HeaderFields> & { typeflag: string },
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return concat([headerBlock({ name: ROOT, size: data.length, magic: 'gnu', ...fields }), padToBlock(data)]);
}

function paxMember(
  records: string | Uint8Array,
  data: Uint8Array = new Uint8Array(0),
  typeflag = '0',
): Uint8Array {
  const body = typeof records === 'string' ? utf8(records) : records;
  return concat([
    headerBlock({ name: utf8('./PaxHeaders/root.img'), typeflag: 'x', size: body.length, magic: 'posix' }),
    padToBlock(body),
    headerBlock({ name: ROOT, typeflag, size: data.length, magic: 'posix' }),
    padToBlock(data),
  ]);
}

/** A header whose bytes are edited after the checksum is computed, then re-summed unless `keepSum`. */
function edited(fields: HeaderFields, edit: (block: Uint8Array) => void, keepSum = false): Uint8Array {
  const block = headerBlock(fields);
  edit(block);
  if (!keepSum) putChecksum(block);
  return block;
}

const plainFields: HeaderFields = { name: ROOT, typeflag: '0', size: BLOCK, magic: 'gnu' };

/** An extension chain that never stops announcing another block, one past MAX_SPARSE_EXTENTS. */
function endlessExtensionChain(): Uint8Array {
  const slots = Array.from({ length: MAX_SPARSE_EXTENTS + 1 }, (_, i) => ({
    offset: i * 2 * BLOCK,
    length: 0,
  }));
  const blocks = [
    headerBlock({
      name: ROOT,
      typeflag: 'S',
      size: 0,
      magic: 'gnu',
      sparse: { slots: slots.slice(0, 4), isExtended: true, realSize: 2 ** 30 },
    }),
  ];
  for (let i = 4; i < slots.length; i += 21) blocks.push(sparseExtensionBlock(slots.slice(i, i + 21), true));
  return concat(blocks);
}

export function hostileSparseTars(): HostileSparseTar[] {
  const good = gnuSparse([
    { offset: 0, length: BLOCK },
    { offset: REAL_SIZE, length: 0 },
  ]);
  const goodArchive = archive(good);
  const badSum = headerBlock({ ...plainFields });
  badSum[0] = 0x53; // 'r' -> 'S' in the name, after the checksum was taken
  const list: HostileSparseTar[] = [
    {
      name: 'extent-overlap',
      code: 'sparse.extent-overlap',
      bytes: archive(
        gnuSparse([
          { offset: 0, length: 2 * BLOCK },
          { offset: BLOCK, length: BLOCK },
        ]),
      ),
    },
    {
      name: 'extent-out-of-order',
      code: 'sparse.extent-order',
      bytes: archive(
        gnuSparse([
          { offset: 4 * BLOCK, length: BLOCK },
          { offset: 0, length: BLOCK },
        ]),
      ),
    },
    {
      name: 'extent-past-real-size',
      code: 'sparse.extent-past-size',
      bytes: archive(gnuSparse([{ offset: REAL_SIZE - BLOCK, length: 2 * BLOCK }])),
    },
    {
      name: 'extent-order-in-extension-block',
      code: 'sparse.extent-order',
      bytes: archive(
        gnuSparse([
          ...Array.from({ length: 6 }, (_, i) => ({ offset: i * 2 * BLOCK, length: BLOCK })),
          { offset: BLOCK * 3, length: BLOCK },
        ]),
      ),
    },
    {
      name: 'map-larger-than-member-data',
      code: 'sparse.extent-size-mismatch',
      bytes: archive(gnuSparse([{ offset: 0, length: 4 * BLOCK }], { size: BLOCK })),
    },
    {
      name: 'second-member',
      code: 'sparse.second-member',
      bytes: archive(good, member({ typeflag: '0' }, filler(10))),
    },
    { name: 'symlink-member', code: 'sparse.member-link', bytes: archive(member({ typeflag: '2' })) },
    { name: 'hardlink-member', code: 'sparse.member-link', bytes: archive(member({ typeflag: '1' })) },
    { name: 'char-device-member', code: 'sparse.member-device', bytes: archive(member({ typeflag: '3' })) },
    { name: 'block-device-member', code: 'sparse.member-device', bytes: archive(member({ typeflag: '4' })) },
    { name: 'directory-member', code: 'sparse.member-directory', bytes: archive(member({ typeflag: '5' })) },
    { name: 'fifo-member', code: 'sparse.member-fifo', bytes: archive(member({ typeflag: '6' })) },
    { name: 'multivolume-member', code: 'sparse.member-type', bytes: archive(member({ typeflag: 'M' })) },
    { name: 'truncated-in-header', code: 'sparse.truncated', bytes: goodArchive.slice(0, 300) },
    { name: 'truncated-in-data', code: 'sparse.truncated', bytes: goodArchive.slice(0, BLOCK + 100) },
    { name: 'truncated-before-end-blocks', code: 'sparse.truncated', bytes: good },
    { name: 'lone-zero-block', code: 'sparse.truncated', bytes: concat([good, new Uint8Array(BLOCK)]) },
    {
      name: 'trailing-garbage',
      code: 'sparse.trailing-garbage',
      bytes: concat([goodArchive, utf8('garbage')]),
    },
    {
      name: 'garbage-in-record-padding',
      code: 'sparse.trailing-garbage',
      bytes: (() => {
        const bytes = goodArchive.slice();
        bytes[bytes.length - 1] = 1;
        return bytes;
      })(),
    },
    {
      name: 'partial-trailing-block',
      code: 'sparse.trailing-garbage',
      bytes: concat([goodArchive, new Uint8Array(100)]),
    },
    { name: 'bad-checksum', code: 'sparse.header-checksum', bytes: archive(badSum, new Uint8Array(BLOCK)) },
    {
      name: 'bad-magic',
      code: 'sparse.header-magic',
      bytes: archive(
        edited(plainFields, (b) => b.set(utf8('ustaR'), 257)),
        new Uint8Array(BLOCK),
      ),
    },
    {
      name: 'base256-absurd-real-size',
      code: 'sparse.size-limit',
      bytes: archive(gnuSparse([{ offset: 0, length: BLOCK }], { realSize: 2 ** 50 })),
    },
    {
      name: 'base256-beyond-2^53',
      code: 'sparse.size-limit',
      bytes: archive(
        edited(plainFields, (b) =>
          b.set([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 124),
        ),
      ),
    },
    {
      name: 'base256-negative',
      code: 'sparse.number',
      bytes: archive(
        edited(plainFields, (b) =>
          b.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 124),
        ),
      ),
    },
    {
      name: 'base256-for-small-value',
      code: 'sparse.number-non-canonical',
      bytes: archive(
        edited(plainFields, (b) => b.set([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00], 124)),
        new Uint8Array(BLOCK),
      ),
    },
    {
      name: 'octal-with-garbage',
      code: 'sparse.number',
      bytes: archive(
        edited(plainFields, (b) => b.set(utf8('0000001x000\0'), 124)),
        new Uint8Array(BLOCK),
      ),
    },
    { name: 'endless-extension-chain', code: 'sparse.extent-count', bytes: endlessExtensionChain() },
    {
      name: 'extension-chain-cut-short',
      code: 'sparse.truncated',
      bytes: gnuSparse(
        Array.from({ length: 30 }, (_, i) => ({ offset: i * 2 * BLOCK, length: BLOCK })),
      ).slice(0, 2 * BLOCK),
    },
    {
      name: 'isextended-after-short-map',
      code: 'sparse.sparse-map',
      bytes: archive(
        edited(
          {
            name: ROOT,
            typeflag: 'S',
            size: BLOCK,
            magic: 'gnu',
            sparse: { slots: [{ offset: 0, length: BLOCK }], isExtended: true, realSize: REAL_SIZE },
          },
          () => undefined,
        ),
        filler(BLOCK),
      ),
    },
    { name: 'empty-archive', code: 'sparse.no-member', bytes: new Uint8Array(2 * BLOCK) },
    {
      name: 'long-name-without-nul',
      code: 'sparse.long-name',
      bytes: archive(
        ...longNameBlocks(utf8('x'.repeat(150))).map((b, i) => (i === 1 ? b.fill(0x78, 0, 151) : b)),
      ),
    },
    {
      name: 'long-name-too-long',
      code: 'sparse.long-name',
      bytes: archive(
        headerBlock({ name: utf8('././@LongLink'), typeflag: 'L', size: 1 << 30, magic: 'gnu' }),
      ),
    },
    {
      name: 'long-name-without-member',
      code: 'sparse.no-member',
      bytes: archive(...longNameBlocks(utf8('y'.repeat(120)))),
    },
    {
      name: 'pax-header-too-large',
      code: 'sparse.pax-size',
      bytes: archive(
        headerBlock({ name: utf8('./PaxHeaders/root.img'), typeflag: 'x', size: 1 << 30, magic: 'posix' }),
      ),
    },
    {
      name: 'pax-bad-record-length',
      code: 'sparse.pax-record',
      bytes: archive(paxMember('99 path=root.img\n')),
    },
    {
      name: 'pax-leading-zero-length',
      code: 'sparse.pax-record',
      bytes: archive(paxMember('018 path=root.img\n')),
    },
    {
      name: 'pax-record-without-equals',
      code: 'sparse.pax-record',
      bytes: archive(paxMember('12 pathroot\n')),
    },
    {
      name: 'pax-global-header',
      code: 'sparse.pax-global',
      bytes: archive(
        concat([headerBlock({ name: utf8('pax_global_header'), typeflag: 'g', size: 0, magic: 'posix' })]),
        member({ typeflag: '0' }),
      ),
    },
    {
      name: 'pax-duplicate-keyword',
      code: 'sparse.pax-conflict',
      bytes: archive(paxMember(paxRecord('path', 'a') + paxRecord('path', 'b'))),
    },
    {
      name: 'pax-sparse-1.0-with-0.1-map',
      code: 'sparse.pax-conflict',
      bytes: archive(
        paxMember(
          paxRecord('GNU.sparse.major', '1') +
            paxRecord('GNU.sparse.minor', '0') +
            paxRecord('GNU.sparse.realsize', String(REAL_SIZE)) +
            paxRecord('GNU.sparse.map', '0,512'),
          padToBlock(utf8('1\n0\n512\n')),
        ),
      ),
    },
    {
      name: 'pax-sparse-unknown-version',
      code: 'sparse.sparse-version',
      bytes: archive(
        paxMember(
          paxRecord('GNU.sparse.major', '2') +
            paxRecord('GNU.sparse.minor', '0') +
            paxRecord('GNU.sparse.realsize', '10'),
        ),
      ),
    },
    {
      name: 'pax-gnu-volume-keyword',
      code: 'sparse.pax-keyword',
      bytes: archive(paxMember(paxRecord('GNU.volume.offset', '512'))),
    },
    {
      name: 'pax-1.0-map-count-absurd',
      code: 'sparse.extent-count',
      bytes: archive(
        paxMember(
          paxRecord('GNU.sparse.major', '1') +
            paxRecord('GNU.sparse.minor', '0') +
            paxRecord('GNU.sparse.realsize', String(REAL_SIZE)),
          padToBlock(utf8('999999999\n0\n512\n')),
        ),
      ),
    },
    {
      name: 'pax-1.0-map-bad-line',
      code: 'sparse.sparse-map',
      bytes: archive(
        paxMember(
          paxRecord('GNU.sparse.major', '1') +
            paxRecord('GNU.sparse.minor', '0') +
            paxRecord('GNU.sparse.realsize', String(REAL_SIZE)),
          concat([padToBlock(utf8('1\n0x10\n512\n')), filler(BLOCK)]),
        ),
      ),
    },
    {
      name: 'pax-0.1-overlap',
      code: 'sparse.extent-overlap',
      bytes: archive(
        paxMember(
          paxRecord('GNU.sparse.size', String(REAL_SIZE)) +
            paxRecord('GNU.sparse.numblocks', '2') +
            paxRecord('GNU.sparse.map', '0,1024,512,512'),
          filler(1536),
        ),
      ),
    },
    {
      name: 'pax-1.0-extent-past-size',
      code: 'sparse.extent-past-size',
      bytes: archive(
        paxMember(
          paxRecord('GNU.sparse.major', '1') +
            paxRecord('GNU.sparse.minor', '0') +
            paxRecord('GNU.sparse.realsize', '1024'),
          concat([padToBlock(utf8('1\n512\n1024\n')), filler(1024)]),
        ),
      ),
    },
    {
      name: 'pax-0.0-numblocks-mismatch',
      code: 'sparse.sparse-map',
      bytes: archive(
        paxMember(
          paxRecord('GNU.sparse.size', String(REAL_SIZE)) +
            paxRecord('GNU.sparse.numblocks', '2') +
            paxRecord('GNU.sparse.offset', '0') +
            paxRecord('GNU.sparse.numbytes', '512'),
          filler(512),
        ),
      ),
    },
    {
      name: 'pax-path-not-utf8',
      code: 'sparse.pax-value',
      bytes: archive(
        paxMember(concat([utf8('18 path=root'), Uint8Array.of(0xff), utf8('.img\n')]), filler(10)),
      ),
    },
    {
      name: 'long-name-then-pax-header',
      code: 'sparse.pax-conflict',
      bytes: archive(
        ...longNameBlocks(utf8('z'.repeat(120))),
        paxMember(paxRecord('path', 'root.img'), filler(10)),
      ),
    },
    {
      name: 'plain-member-absurd-size',
      code: 'sparse.size-limit',
      bytes: archive(member({ typeflag: '0', size: 2 ** 45 })),
    },
    {
      name: 'extension-block-padding-garbage',
      code: 'sparse.sparse-map',
      bytes: archive(
        (() => {
          const bytes = gnuSparse(
            Array.from({ length: 6 }, (_, i) => ({ offset: i * 2 * BLOCK, length: BLOCK })),
          );
          bytes[BLOCK + 510] = 7;
          return bytes;
        })(),
      ),
    },
  ];
  return list;
}
