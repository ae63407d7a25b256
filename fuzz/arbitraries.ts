/**
 * Structured inputs for the targets, as fast-check arbitraries: legal frame orders with random
 * payloads, messages of each schema's shape with hostile field values, RPM headers from the
 * forge's header writer with random entries, old GNU sparse archives with random maps, and
 * template.conf, appmenu and INI text from each format's tokens. They reach the deep states that
 * byte mutation alone finds slowly; the mutator then breaks them.
 */
import * as fc from 'fast-check';
import { encodeFrame, type FrameType, type WorkerOp } from '../protocol/frames.ts';
import { JSON_FRAME_TYPES } from '../protocol/frames.ts';
import type { JsonFrameType } from '../protocol/messages.ts';
import { encodeHeader, type HeaderEntry } from '../sim/forge/header-writer.ts';
import { RpmType } from '../sim/forge/rpm-tags.ts';
import {
  BLOCK,
  endOfArchive,
  headerBlock,
  padToBlock,
  sparseExtensionBlock,
  utf8,
  type SparseSlot,
} from '../sim/forge/tar-blocks.ts';
import { concatBytes } from './target.ts';

const encoder = new TextEncoder();
/** The worker operation a `frames` input's first byte selects (modulo the length). */
export const WORKER_OPS: readonly WorkerOp[] = ['fetch', 'unpack', 'query', 'download', 'header', 'hello'];
/** The JSON frame type a `messages` input's first byte selects (modulo the length). */
export const JSON_TYPES = [...JSON_FRAME_TYPES] as JsonFrameType[];

/** A legal type order for `op` (grammar of FrameSequence), with PROGRESS sprinkled in. */
function legalOrder(op: WorkerOp, files: number, dataFrames: number, progress: number): FrameType[] {
  const body: FrameType[] = [];
  switch (op) {
    case 'fetch':
    case 'unpack':
      body.push('HEAD', 'METADATA');
      for (let f = 0; f < files; f++)
        body.push('FILE_BEGIN', ...Array<FrameType>(dataFrames).fill('FILE_DATA'), 'FILE_END');
      break;
    case 'query':
      body.push('QUERY_RESULT');
      break;
    case 'download':
      body.push('HEAD', ...Array<FrameType>(dataFrames).fill('PAYLOAD_DATA'));
      break;
    case 'header':
      body.push('HEAD');
      break;
    case 'hello':
      break;
  }
  const withProgress = [...body];
  for (let i = 0; i < progress && op !== 'query' && op !== 'hello'; i++)
    withProgress.splice(1 + (i % withProgress.length), 0, 'PROGRESS');
  return ['HELLO', ...withProgress, 'END'];
}

/** [op selector, chunk size, frames...]: legal orders, or (one in four) any order. */
export function frameStreamArbitrary(): fc.Arbitrary<Uint8Array> {
  const payload = fc.uint8Array({ maxLength: 48 });
  return fc
    .record({
      op: fc.nat({ max: WORKER_OPS.length - 1 }),
      chunk: fc.nat({ max: 255 }),
      files: fc.nat({ max: 3 }),
      data: fc.nat({ max: 3 }),
      progress: fc.nat({ max: 2 }),
      shuffle: fc.option(fc.array(fc.constantFrom<FrameType>('HELLO', 'HEAD', 'END', 'ERROR', 'FILE_DATA'))),
      payloads: fc.array(payload, { minLength: 16, maxLength: 16 }),
      tail: fc.uint8Array({ maxLength: 12 }),
    })
    .map(({ op, chunk, files, data, progress, shuffle, payloads, tail }) => {
      const order = shuffle ?? legalOrder(WORKER_OPS[op] ?? 'fetch', files, data, progress);
      const frames = order.map((type, i) => encodeFrame(type, payloads[i % payloads.length]));
      return concatBytes([Uint8Array.of(op, chunk), ...frames, shuffle === null ? new Uint8Array(0) : tail]);
    });
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '',
    '/',
    '/..',
    '/var/lib/qubes/vm-templates/x/root.img',
    'a\u202eb',
    'x\n',
    'worker.failed',
  ),
);
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(-1, 0, 2 ** 31 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 0.5),
);
const anyValue = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));

/** [JSON frame type selector, JSON payload]: objects of each schema's shape, fields hostile or missing. */
export function messageArbitrary(): fc.Arbitrary<Uint8Array> {
  const fieldsByType: Record<string, readonly string[]> = {
    REQUEST: ['op', 'repos', 'releasever', 'package', 'spec', 'allowedFiles'],
    HELLO: ['protocol', 'worker'],
    PROGRESS: ['stage', 'done', 'total'],
    METADATA: ['package', 'repoid', 'files'],
    FILE_BEGIN: ['path', 'size'],
    FILE_END: ['path'],
    QUERY_RESULT: ['packages', 'warnings', 'repomd'],
    END: ['files', 'bytes'],
    ERROR: ['code', 'message'],
  };
  return fc
    .record({
      type: fc.nat({ max: JSON_TYPES.length - 1 }),
      values: fc.array(anyValue, { minLength: 8, maxLength: 8 }),
      drop: fc.nat({ max: 8 }),
      extra: fc.boolean(),
    })
    .map(({ type, values, drop, extra }) => {
      const name = JSON_TYPES[type] ?? 'HELLO';
      const object: Record<string, unknown> = {};
      (fieldsByType[name] ?? []).forEach((field, i) => {
        if (i !== drop) object[field] = values[i];
      });
      if (extra) object['extra'] = values[7];
      return concatBytes([Uint8Array.of(type), encoder.encode(JSON.stringify(object))]);
    });
}

const headerValue = fc.oneof(
  fc.string({ maxLength: 24 }).map((value) => ({ type: RpmType.STRING, value })),
  fc
    .array(fc.string({ maxLength: 12 }), { maxLength: 4 })
    .map((value) => ({ type: RpmType.STRING_ARRAY, value })),
  fc.uint8Array({ maxLength: 40 }).map((value) => ({ type: RpmType.BIN, value })),
  fc
    .array(fc.nat({ max: 0xffff }), { minLength: 1, maxLength: 4 })
    .map((value) => ({ type: RpmType.INT16, value })),
  fc.array(fc.nat(), { minLength: 1, maxLength: 4 }).map((value) => ({ type: RpmType.INT32, value })),
  fc.array(fc.nat(), { minLength: 1, maxLength: 2 }).map((value) => ({ type: RpmType.INT64, value })),
);
/** Tags packageInfo and the verifiers read (NAME..., digests, sizes), and some unknown ones. */
const HEADER_TAGS = [
  1000, 1001, 1002, 1003, 1004, 1005, 1006, 1009, 1022, 1028, 1030, 1035, 1116, 1117, 1118, 1124, 1125, 5011,
  5092, 5093, 269, 273, 1000000,
];

/** [kind selector, header]: well-formed regions with random entries. */
export function rpmHeaderArbitrary(): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      main: fc.boolean(),
      entries: fc.uniqueArray(fc.record({ tag: fc.constantFrom(...HEADER_TAGS), data: headerValue }), {
        selector: (e) => e.tag,
        maxLength: 10,
      }),
    })
    .map(({ main, entries }) =>
      concatBytes([Uint8Array.of(main ? 0 : 1), encodeHeader(main ? 63 : 62, entries as HeaderEntry[])]),
    );
}

/** [chunk size, archive]: an old GNU sparse member with a random map, extension blocks included. */
export function sparseTarArbitrary(): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      chunk: fc.nat({ max: 255 }),
      slots: fc.array(fc.record({ gap: fc.nat({ max: 3 }), blocks: fc.nat({ max: 2 }) }), { maxLength: 30 }),
      tailHole: fc.nat({ max: 3 }),
      lie: fc.option(fc.nat({ max: 4096 })),
    })
    .map(({ chunk, slots, tailHole, lie }) => {
      const map: SparseSlot[] = [];
      let at = 0;
      for (const { gap, blocks } of slots) {
        at += gap * BLOCK;
        map.push({ offset: at, length: blocks * BLOCK });
        at += blocks * BLOCK;
      }
      const realSize = at + tailHole * BLOCK;
      map.push({ offset: realSize, length: 0 });
      const dataSize = map.reduce((n, s) => n + s.length, 0);
      const blocks = [
        headerBlock({
          name: utf8('root.img'),
          typeflag: 'S',
          size: lie ?? dataSize,
          magic: 'gnu',
          sparse: { slots: map.slice(0, 4), isExtended: map.length > 4, realSize },
        }),
      ];
      for (let i = 4; i < map.length; i += 21)
        blocks.push(sparseExtensionBlock(map.slice(i, i + 21), i + 21 < map.length));
      blocks.push(padToBlock(new Uint8Array(dataSize).fill(0x5a)));
      const written = blocks.reduce((n, b) => n + b.length, 0);
      return concatBytes([Uint8Array.of(chunk), ...blocks, endOfArchive(written)]);
    });
}

const line = (tokens: readonly string[]) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(fc.constantFrom(...tokens), fc.constantFrom(...tokens)).map(([a, b]) => a + b),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  );

/** [allowPv selector, template.conf text]. */
export function templateConfArbitrary(): fc.Arbitrary<Uint8Array> {
  const tokens = [
    'gui=',
    'qrexec=',
    'selinux=',
    'virt-mode=',
    'kernel=',
    'net.fake-ip=',
    'net.fake-netmask=',
    '1',
    '0',
    'pv',
    'pvh',
    'hvm',
    '10.137.0.1',
    '255.255.255.0',
    '01.2.3.4',
    '256.0.0.1',
    '',
    ' ',
    '\t',
  ];
  return fc
    .tuple(fc.nat({ max: 1 }), fc.array(line(tokens), { maxLength: 8 }))
    .map(([allowPv, lines]) => concatBytes([Uint8Array.of(allowPv), encoder.encode(lines.join('\n'))]));
}

export function appmenuArbitrary(): fc.Arbitrary<Uint8Array> {
  const tokens = ['firefox.desktop', 'org.gnome.Terminal.desktop', 'a@b+c', ' ', '\t', '', 'x y', '-'];
  return fc.array(line(tokens), { maxLength: 8 }).map((lines) => encoder.encode(lines.join('\n')));
}

export function iniArbitrary(): fc.Arbitrary<Uint8Array> {
  const tokens = [
    '[repo]',
    '[main]',
    '[$releasever]',
    '  ',
    '\t',
    '#',
    ';',
    'baseurl=',
    'gpgkey=',
    'enabled=',
    'gpgcheck=',
    'metadata_expire=',
    'metalink=',
    'https://example.invalid/r$releasever/',
    'file:///etc/k',
    '1',
    'no',
    '7d',
    'never',
    '${releasever:-x}',
    '=',
    ']',
    '\r',
  ];
  return fc.array(line(tokens), { maxLength: 10 }).map((lines) => encoder.encode(lines.join('\n')));
}
