/**
 * Generated hostile inputs for the frame decoder and the per-operation frame order checker.
 * Each case asserts the error class and its stable code.
 */
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../protocol/errors.ts';
import {
  FRAME_MAX_LENGTHS,
  FRAME_TYPE_CODES,
  FrameSequence,
  decodeFrames,
  encodeFrame,
  type Frame,
  type FrameType,
  type WorkerOp,
} from '../../protocol/frames.ts';
import { FRAME_HEADER_LENGTH } from '../../protocol/limits.ts';
import { chunked } from '../helpers/byte-slices.ts';
import { concat } from '../helpers/cpio-builder.ts';

async function decodeError(
  source: Iterable<Uint8Array>,
  opts: Parameters<typeof decodeFrames>[1] = {},
): Promise<{ error: ParseError; frames: Frame[] }> {
  const frames: Frame[] = [];
  try {
    for await (const f of decodeFrames(source, opts)) frames.push(f);
  } catch (error) {
    expect(error).toBeInstanceOf(ParseError);
    return { error: error as ParseError, frames };
  }
  throw new Error('decoder accepted a hostile input');
}

function header(
  typeByte: number,
  length: number,
  reserved: [number, number, number] = [0, 0, 0],
): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_LENGTH);
  h[0] = typeByte;
  h.set(reserved, 1);
  new DataView(h.buffer).setUint32(4, length >>> 0, false);
  return h;
}

const ALL_TYPES = Object.keys(FRAME_TYPE_CODES) as FrameType[];

describe('frame header', () => {
  const known = new Set(Object.values(FRAME_TYPE_CODES));
  it('every unknown type byte is frame.type, at the frame offset', async () => {
    const prefix = encodeFrame('HELLO', new Uint8Array(3));
    for (let code = 0; code < 256; code++) {
      if (known.has(code)) continue;
      const { error, frames } = await decodeError(chunked(concat([prefix, header(code, 0)]), 3));
      expect(error.code).toBe('frame.type');
      expect(error.offset).toBe(prefix.length);
      expect(frames).toHaveLength(1);
    }
  });

  it('any non-zero reserved byte is frame.reserved', async () => {
    for (const position of [0, 1, 2] as const) {
      for (const value of [1, 0x80, 0xff]) {
        const reserved: [number, number, number] = [0, 0, 0];
        reserved[position] = value;
        const { error } = await decodeError(chunked(header(FRAME_TYPE_CODES.END, 0, reserved), 8));
        expect(error.code).toBe('frame.reserved');
        expect(error.offset).toBe(1 + position);
      }
    }
  });

  it('a declared length beyond the type limit is frame.too-large before any payload byte is read', async () => {
    for (const type of ALL_TYPES) {
      for (const length of [FRAME_MAX_LENGTHS[type] + 1, 0x7fffffff, 0xffffffff]) {
        let pulledAfterHeader = 0;
        function* source(): Generator<Uint8Array> {
          yield header(FRAME_TYPE_CODES[type], length);
          // A hostile peer that keeps sending: the decoder must stop at the header.
          for (;;) {
            pulledAfterHeader++;
            yield new Uint8Array(65536);
          }
        }
        const { error } = await decodeError(source());
        expect(error.code).toBe('frame.too-large');
        expect(error.offset).toBe(4);
        expect(pulledAfterHeader).toBe(0);
      }
      // The limit itself is fine: the header parses, and then the input is short.
      const { error } = await decodeError(
        chunked(header(FRAME_TYPE_CODES[type], FRAME_MAX_LENGTHS[type]), 8),
      );
      expect(error.code).toBe('frame.truncated');
    }
  });
});

describe('truncation', () => {
  const stream = concat([
    encodeFrame('HELLO', new TextEncoder().encode('{"protocol":1,"worker":"1"}')),
    encodeFrame('HEAD', new Uint8Array(100).fill(7)),
    encodeFrame('END', new TextEncoder().encode('{}')),
  ]);
  const boundaries = new Set([0, 35, 35 + 108, stream.length]);

  it('a cut at every byte inside a frame is frame.truncated at the cut', async () => {
    for (let cut = 1; cut < stream.length; cut++) {
      if (boundaries.has(cut)) continue;
      const { error } = await decodeError(chunked(stream.subarray(0, cut), 13));
      expect(error.code).toBe('frame.truncated');
      expect(error.offset).toBe(cut);
    }
  });

  it('a cut at a frame boundary before END is frame.truncated when the order is checked', async () => {
    for (const cut of [0, 35, 143]) {
      const { error } = await decodeError(chunked(stream.subarray(0, cut), 13), {
        sequence: new FrameSequence('header'),
      });
      expect(error.code).toBe('frame.truncated');
    }
  });
});

describe('bytes after END or ERROR', () => {
  const base = concat([
    encodeFrame('HELLO', new Uint8Array(1)),
    encodeFrame('HEAD', new Uint8Array(1)),
    encodeFrame('END', new Uint8Array(1)),
  ]);
  it('any trailing byte count, in the same chunk or the next, is frame.after-end', async () => {
    for (const extra of [1, 2, 7, 8, 9, 100]) {
      const tail = new Uint8Array(extra).fill(0x19);
      for (const chunk of [1, 5, base.length, base.length + extra]) {
        const { error, frames } = await decodeError(chunked(concat([base, tail]), chunk), {
          sequence: new FrameSequence('header'),
        });
        expect(error.code).toBe('frame.after-end');
        expect(error.offset).toBe(base.length);
        expect(frames.map((f) => f.type)).toEqual(['HELLO', 'HEAD', 'END']);
      }
    }
  });

  it('a whole well-formed frame after ERROR is frame.after-end', async () => {
    const bytes = concat([encodeFrame('ERROR', new Uint8Array(2)), encodeFrame('END', new Uint8Array(2))]);
    const { error } = await decodeError(chunked(bytes, 64), { sequence: new FrameSequence('fetch') });
    expect(error.code).toBe('frame.after-end');
  });
});

describe('types a reader does not accept', () => {
  it('a worker→orchestrator frame on the worker input is frame.unexpected', async () => {
    const bytes = concat([
      encodeFrame('REQUEST', new Uint8Array(2)),
      encodeFrame('FILE_DATA', new Uint8Array(2)),
    ]);
    const { error, frames } = await decodeError(chunked(bytes, 4), {
      types: new Set<FrameType>(['REQUEST', 'PACKAGE_DATA']),
    });
    expect(error.code).toBe('frame.unexpected');
    expect(frames.map((f) => f.type)).toEqual(['REQUEST']);
  });
});

/*
 * The order checker against an independent oracle: every sequence up to length 4 (and samples of
 * longer ones) over the
 * worker's frame types, for every operation. Letters: H HELLO, P PROGRESS, D HEAD, M METADATA,
 * B FILE_BEGIN, F FILE_DATA, X FILE_END, A PAYLOAD_DATA, Q QUERY_RESULT, N END, E ERROR.
 */
const LETTERS: Record<string, FrameType> = {
  H: 'HELLO',
  P: 'PROGRESS',
  D: 'HEAD',
  M: 'METADATA',
  B: 'FILE_BEGIN',
  F: 'FILE_DATA',
  X: 'FILE_END',
  A: 'PAYLOAD_DATA',
  Q: 'QUERY_RESULT',
  N: 'END',
  E: 'ERROR',
};
const COMPLETE: Record<WorkerOp, RegExp> = {
  fetch: /^HDM(BF*X)*N$/,
  unpack: /^HDM(BF*X)*N$/,
  query: /^HQN$/,
  download: /^HDA*N$/,
  header: /^HDN$/,
  hello: /^HN$/,
};
const PREFIX: Record<WorkerOp, RegExp> = {
  fetch: /^(H(D(M(BF*X)*(BF*)?)?)?)?$/,
  unpack: /^(H(D(M(BF*X)*(BF*)?)?)?)?$/,
  query: /^(HQ?)?$/,
  download: /^(H(DA*)?)?$/,
  header: /^(HD?)?$/,
  hello: /^H?$/,
};

/** Legal as a whole stream: PROGRESS only after HELLO and before the end; ERROR ends any legal prefix. */
function oracleComplete(op: WorkerOp, s: string): boolean {
  if (s.startsWith('P')) return false;
  // A query reports progress only before its result.
  if (op === 'query' && /Q.*P/.test(s)) return false;
  if (!/[NE]$/.test(s) || /[NE]./.test(s)) return false;
  const bare = s.replace(/P/g, '');
  if (bare.endsWith('E')) return PREFIX[op].test(bare.slice(0, -1));
  return COMPLETE[op].test(bare);
}

/** Legal so far (more frames may follow). */
function oraclePrefix(op: WorkerOp, s: string): boolean {
  if (s === '') return true;
  if (/[NE]$/.test(s)) return oracleComplete(op, s);
  if (s.startsWith('P') || /[NE]/.test(s)) return false;
  if (op === 'query' && /Q.*P/.test(s)) return false;
  return PREFIX[op].test(s.replace(/P/g, ''));
}

/** Every sequence up to `exhaustive` letters, then `sampled` pseudo-random ones of 5 to 9 letters. */
function* sequences(exhaustive: number, sampled: number): Generator<string> {
  const letters = Object.keys(LETTERS);
  let level = [''];
  for (let n = 1; n <= exhaustive; n++) {
    const next: string[] = [];
    for (const prefix of level) for (const l of letters) next.push(prefix + l);
    yield* next;
    level = next;
  }
  let x = 0x9e3779b9;
  const random = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  for (let i = 0; i < sampled; i++) {
    // Bias towards legal prefixes so long sequences get deep into the state machine.
    let s = '';
    const length = 5 + random(5);
    while (s.length < length) s += letters[random(letters.length)]!;
    yield s;
    yield 'H' + 'DMBFFXBX'.slice(0, random(8)) + s.slice(0, random(4));
  }
}

describe('FrameSequence against the oracle', () => {
  for (const op of Object.keys(COMPLETE) as WorkerOp[]) {
    it(`${op}: every order up to 4 frames and sampled longer ones are accepted iff legal, with the right code`, () => {
      // Plain comparisons in the loop, one assertion at the end: ~20 000 cases per operation.
      const mismatches: string[] = [];
      let accepted = 0;
      for (const s of sequences(4, 2000)) {
        const seq = new FrameSequence(op);
        let code: string | null = null;
        let failedAt = -1;
        try {
          for (let i = 0; i < s.length; i++) {
            failedAt = i;
            seq.accept(LETTERS[s[i]!]!, i);
          }
          failedAt = -1;
          seq.finish(s.length);
        } catch (error) {
          code = error instanceof ParseError ? error.code : String(error);
        }
        let ok: boolean;
        if (oracleComplete(op, s)) {
          ok = code === null;
          accepted++;
        } else if (failedAt === -1) {
          ok = code === 'frame.truncated' && oraclePrefix(op, s);
        } else {
          const before = s.slice(0, failedAt);
          ok =
            oraclePrefix(op, before) &&
            !oraclePrefix(op, s.slice(0, failedAt + 1)) &&
            code === (/[NE]$/.test(before) ? 'frame.after-end' : 'frame.unexpected');
        }
        if (!ok && mismatches.length < 20) mismatches.push(`${s} -> ${code ?? 'accepted'}`);
      }
      expect(mismatches).toEqual([]);
      expect(accepted).toBeGreaterThan(3);
    });
  }

  it('missing, extra and reordered frames in a byte stream carry their codes', async () => {
    const f = (t: FrameType) => encodeFrame(t, new Uint8Array(1));
    const cases: [WorkerOp, FrameType[], string][] = [
      ['fetch', ['HEAD', 'METADATA', 'END'], 'frame.unexpected'], // HELLO missing
      ['fetch', ['HELLO', 'METADATA', 'HEAD', 'END'], 'frame.unexpected'], // reordered
      ['fetch', ['HELLO', 'HEAD', 'METADATA', 'FILE_DATA', 'END'], 'frame.unexpected'], // data outside a file
      ['fetch', ['HELLO', 'HEAD', 'METADATA', 'FILE_BEGIN', 'FILE_DATA', 'END'], 'frame.unexpected'], // no FILE_END
      ['fetch', ['HELLO', 'HELLO'], 'frame.unexpected'], // extra
      ['fetch', ['HELLO', 'HEAD', 'METADATA', 'END', 'END'], 'frame.after-end'],
      ['query', ['HELLO', 'QUERY_RESULT', 'QUERY_RESULT', 'END'], 'frame.unexpected'],
      ['query', ['HELLO', 'END'], 'frame.unexpected'],
      ['query', ['HELLO', 'QUERY_RESULT', 'PROGRESS', 'END'], 'frame.unexpected'],
      ['download', ['HELLO', 'PAYLOAD_DATA', 'END'], 'frame.unexpected'],
      ['download', ['HELLO', 'HEAD', 'METADATA', 'END'], 'frame.unexpected'],
      ['header', ['HELLO', 'HEAD', 'HEAD', 'END'], 'frame.unexpected'],
      ['header', ['PROGRESS', 'HELLO', 'HEAD', 'END'], 'frame.unexpected'],
      ['header', ['HELLO', 'HEAD'], 'frame.truncated'],
      ['unpack', ['HELLO', 'REQUEST'], 'frame.unexpected'],
      ['unpack', ['HELLO', 'PACKAGE_DATA'], 'frame.unexpected'],
    ];
    for (const [op, order, code] of cases) {
      const { error } = await decodeError(chunked(concat(order.map(f)), 6), {
        sequence: new FrameSequence(op),
      });
      expect(error.code, `${op}: ${order.join(' ')}`).toBe(code);
    }
  });
});
