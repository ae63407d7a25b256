import { describe, expect, it } from 'vitest';
import {
  FRAME_MAX_LENGTHS,
  FRAME_TYPE_CODES,
  FrameSequence,
  decodeFrames,
  encodeDataFrames,
  encodeFrame,
  encodeJsonFrame,
  type Frame,
  type FrameType,
  type WorkerOp,
} from '../../protocol/frames.ts';
import { MAX_DATA_FRAME_LENGTH } from '../../protocol/limits.ts';
import { chunked } from '../helpers/byte-slices.ts';
import { concat } from '../helpers/cpio-builder.ts';

async function collect(source: AsyncIterable<Frame>): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const f of source) frames.push(f);
  return frames;
}

/** Buffer comparison: vitest's deep equality walks typed arrays element by element. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function pseudoRandom(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('encodeFrame', () => {
  it('writes type, three zero bytes, big-endian length, payload', () => {
    const bytes = encodeFrame('HEAD', new Uint8Array([0xaa, 0xbb, 0xcc]));
    expect(Array.from(bytes)).toEqual([FRAME_TYPE_CODES.HEAD, 0, 0, 0, 0, 0, 0, 3, 0xaa, 0xbb, 0xcc]);
    const big = encodeFrame('FILE_DATA', new Uint8Array(0x10203));
    expect(Array.from(big.subarray(0, 8))).toEqual([FRAME_TYPE_CODES.FILE_DATA, 0, 0, 0, 0, 1, 2, 3]);
  });

  it('refuses a payload beyond the type limit', () => {
    expect(() => encodeFrame('FILE_DATA', new Uint8Array(MAX_DATA_FRAME_LENGTH + 1))).toThrow(
      expect.objectContaining({ code: 'frame.too-large' }),
    );
    expect(() => encodeFrame('FILE_DATA', new Uint8Array(MAX_DATA_FRAME_LENGTH))).not.toThrow();
  });

  it('type codes are distinct and every type has a limit', () => {
    const codes = Object.values(FRAME_TYPE_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    for (const type of Object.keys(FRAME_TYPE_CODES) as FrameType[]) {
      expect(FRAME_MAX_LENGTHS[type]).toBeGreaterThan(0);
    }
  });

  it('encodeJsonFrame refuses raw types', () => {
    expect(() => encodeJsonFrame('FILE_DATA', {})).toThrow(TypeError);
  });
});

describe('decodeFrames round trip', () => {
  const data = pseudoRandom(MAX_DATA_FRAME_LENGTH + 12345, 7);
  const frames: Uint8Array[] = [
    encodeJsonFrame('HELLO', { protocol: 1, worker: '0.1.0' }),
    encodeFrame('HEAD', pseudoRandom(5000, 3)),
    encodeJsonFrame('METADATA', { x: 1 }),
    encodeJsonFrame('FILE_BEGIN', { path: '/a', size: data.length }),
    ...encodeDataFrames('FILE_DATA', data),
    encodeJsonFrame('FILE_END', { path: '/a' }),
    encodeFrame('FILE_DATA', new Uint8Array(0)),
    encodeJsonFrame('END', { files: 1, bytes: data.length }),
  ];
  const stream = concat(frames);

  for (const size of [7, 8, 9, 4096, 65536, stream.length]) {
    it(`decodes the same frames from chunks of ${size} bytes`, async () => {
      const decoded = await collect(decodeFrames(chunked(stream, size)));
      expect(decoded.map((f) => f.type)).toEqual([
        'HELLO',
        'HEAD',
        'METADATA',
        'FILE_BEGIN',
        'FILE_DATA',
        'FILE_DATA',
        'FILE_END',
        'FILE_DATA',
        'END',
      ]);
      expect(sameBytes(concat(decoded.map((f) => encodeFrame(f.type, f.payload))), stream)).toBe(true);
      const fileBytes = concat(decoded.slice(4, 6).map((f) => f.payload));
      expect(sameBytes(fileBytes, data)).toBe(true);
    });
  }

  it('copies payload bytes: a source that reuses its buffer does not corrupt earlier frames', async () => {
    const shared = new Uint8Array(61);
    function* reusing(): Generator<Uint8Array> {
      for (let i = 0; i < stream.length; i += 61) {
        const piece = stream.subarray(i, i + 61);
        shared.fill(0);
        shared.set(piece);
        yield shared.subarray(0, piece.length);
      }
    }
    const decoded = await collect(decodeFrames(reusing()));
    expect(sameBytes(concat(decoded.map((f) => encodeFrame(f.type, f.payload))), stream)).toBe(true);
  });

  it('an empty input yields no frames, and with a sequence it is truncated', async () => {
    expect(await collect(decodeFrames(chunked(new Uint8Array(0), 1)))).toEqual([]);
    await expect(
      collect(decodeFrames(chunked(new Uint8Array(0), 1), { sequence: new FrameSequence('query') })),
    ).rejects.toMatchObject({ code: 'frame.truncated' });
  });
});

describe('FrameSequence accepts the legal orders', () => {
  const legal: Record<WorkerOp, FrameType[][]> = {
    fetch: [
      ['HELLO', 'HEAD', 'METADATA', 'END'],
      ['HELLO', 'HEAD', 'METADATA', 'FILE_BEGIN', 'FILE_END', 'END'],
      [
        'HELLO',
        'PROGRESS',
        'HEAD',
        'PROGRESS',
        'METADATA',
        'FILE_BEGIN',
        'FILE_DATA',
        'PROGRESS',
        'FILE_DATA',
        'FILE_END',
        'FILE_BEGIN',
        'FILE_DATA',
        'FILE_END',
        'PROGRESS',
        'END',
      ],
      ['ERROR'],
      ['HELLO', 'HEAD', 'METADATA', 'FILE_BEGIN', 'FILE_DATA', 'ERROR'],
    ],
    unpack: [['HELLO', 'HEAD', 'METADATA', 'FILE_BEGIN', 'FILE_DATA', 'FILE_END', 'END']],
    query: [
      ['HELLO', 'QUERY_RESULT', 'END'],
      ['HELLO', 'PROGRESS', 'PROGRESS', 'QUERY_RESULT', 'END'],
      ['HELLO', 'ERROR'],
    ],
    download: [
      ['HELLO', 'HEAD', 'END'],
      ['HELLO', 'HEAD', 'PAYLOAD_DATA', 'PROGRESS', 'PAYLOAD_DATA', 'END'],
    ],
    header: [
      ['HELLO', 'HEAD', 'END'],
      ['HELLO', 'PROGRESS', 'HEAD', 'END'],
    ],
    hello: [['HELLO', 'END'], ['HELLO', 'ERROR'], ['ERROR']],
  };
  for (const [op, orders] of Object.entries(legal) as [WorkerOp, FrameType[][]][]) {
    for (const order of orders) {
      it(`${op}: ${order.join(' ')}`, async () => {
        const seq = new FrameSequence(op);
        for (const t of order) seq.accept(t);
        expect(seq.done).toBe(true);
        expect(() => seq.finish()).not.toThrow();
        const bytes = concat(order.map((t) => encodeFrame(t, new Uint8Array(2))));
        const decoded = await collect(decodeFrames(chunked(bytes, 5), { sequence: new FrameSequence(op) }));
        expect(decoded.map((f) => f.type)).toEqual(order);
      });
    }
  }
});
