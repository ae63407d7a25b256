/**
 * The frame codec of the worker protocol (qrexec service tmpl.Worker): the byte stream on stdin
 * and stdout between the orchestrator and the disposable worker.
 *
 * A frame is: 1 byte type, 3 reserved bytes that must be zero, a 4-byte big-endian payload
 * length, then the payload. Each type has its own maximum length (protocol/limits.ts) which the
 * decoder enforces as soon as the 8 header bytes have arrived, before it reads or allocates any of
 * the payload. Payloads are either JSON (UTF-8, validated by protocol/messages.ts) or raw bytes.
 *
 * Pure code: the decoder takes any (async) iterable of byte chunks, the encoder returns bytes.
 *
 * Over 300 lines: the encoder, the streaming decoder and the frame-order state machine
 * (FrameSequence) share the frame layout and its limits.
 */
import { ParseError } from './errors.ts';
import {
  FRAME_HEADER_LENGTH,
  MAX_DATA_FRAME_LENGTH,
  MAX_HEAD_FRAME_LENGTH,
  MAX_JSON_FRAME_LENGTH,
  MAX_QUERY_RESULT_FRAME_LENGTH,
  MAX_REQUEST_FRAME_LENGTH,
} from './limits.ts';

export type FrameType =
  | 'REQUEST'
  | 'PACKAGE_DATA'
  | 'HELLO'
  | 'PROGRESS'
  | 'HEAD'
  | 'METADATA'
  | 'FILE_BEGIN'
  | 'FILE_DATA'
  | 'FILE_END'
  | 'PAYLOAD_DATA'
  | 'QUERY_RESULT'
  | 'END'
  | 'ERROR';

export type FrameCodes =
  | 'frame.type'
  | 'frame.reserved'
  | 'frame.too-large'
  | 'frame.truncated'
  | 'frame.unexpected'
  | 'frame.after-end';

/** The type byte on the wire. Orchestrator→worker types are 0x0N, worker→orchestrator 0x1N. */
export const FRAME_TYPE_CODES: Readonly<Record<FrameType, number>> = {
  REQUEST: 0x01,
  PACKAGE_DATA: 0x02,
  HELLO: 0x10,
  PROGRESS: 0x11,
  HEAD: 0x12,
  METADATA: 0x13,
  FILE_BEGIN: 0x14,
  FILE_DATA: 0x15,
  FILE_END: 0x16,
  PAYLOAD_DATA: 0x17,
  QUERY_RESULT: 0x18,
  END: 0x19,
  ERROR: 0x1f,
};

/** Largest payload of each frame type. */
export const FRAME_MAX_LENGTHS: Readonly<Record<FrameType, number>> = {
  REQUEST: MAX_REQUEST_FRAME_LENGTH,
  PACKAGE_DATA: MAX_DATA_FRAME_LENGTH,
  HELLO: MAX_JSON_FRAME_LENGTH,
  PROGRESS: MAX_JSON_FRAME_LENGTH,
  HEAD: MAX_HEAD_FRAME_LENGTH,
  METADATA: MAX_JSON_FRAME_LENGTH,
  FILE_BEGIN: MAX_JSON_FRAME_LENGTH,
  FILE_DATA: MAX_DATA_FRAME_LENGTH,
  FILE_END: MAX_JSON_FRAME_LENGTH,
  PAYLOAD_DATA: MAX_DATA_FRAME_LENGTH,
  QUERY_RESULT: MAX_QUERY_RESULT_FRAME_LENGTH,
  END: MAX_JSON_FRAME_LENGTH,
  ERROR: MAX_JSON_FRAME_LENGTH,
};

/** Types whose payload is JSON (validated with protocol/messages.ts); the others carry raw bytes. */
export const JSON_FRAME_TYPES: ReadonlySet<FrameType> = new Set<FrameType>([
  'REQUEST',
  'HELLO',
  'PROGRESS',
  'METADATA',
  'FILE_BEGIN',
  'FILE_END',
  'QUERY_RESULT',
  'END',
  'ERROR',
]);

const TYPE_BY_CODE = new Map<number, FrameType>(
  Object.entries(FRAME_TYPE_CODES).map(([name, code]) => [code, name as FrameType]),
);

export interface Frame {
  readonly type: FrameType;
  readonly payload: Uint8Array;
}

/**
 * The 8 header bytes of a frame whose payload of `length` bytes is written after them as it is
 * (a writer that sends the payload without copying it into the frame). Throws a ParseError
 * 'frame.too-large' for a length beyond the type's limit.
 */
export function encodeFrameHeader(type: FrameType, length: number, into?: Uint8Array): Uint8Array {
  const max = FRAME_MAX_LENGTHS[type];
  if (length > max) {
    throw new ParseError(
      'frame.too-large',
      `${type} payload of ${length} bytes exceeds the limit of ${max}`,
      0,
    );
  }
  const out = into ?? new Uint8Array(FRAME_HEADER_LENGTH);
  out[0] = FRAME_TYPE_CODES[type];
  new DataView(out.buffer, out.byteOffset).setUint32(4, length, false);
  return out;
}

/** Encodes one frame. Throws a ParseError 'frame.too-large' for a payload beyond the type's limit. */
export function encodeFrame(type: FrameType, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  encodeFrameHeader(type, payload.length, out);
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

/** Encodes a JSON frame. The value should already satisfy its schema in protocol/messages.ts. */
export function encodeJsonFrame(type: FrameType, value: unknown): Uint8Array {
  if (!JSON_FRAME_TYPES.has(type)) throw new TypeError(`${type} is not a JSON frame type`);
  return encodeFrame(type, new TextEncoder().encode(JSON.stringify(value)));
}

/**
 * Splits raw bytes into frames of at most MAX_DATA_FRAME_LENGTH bytes each (the data is not
 * copied: each frame's payload is a view of `data`).
 */
export function* encodeDataFrames(
  type: 'PACKAGE_DATA' | 'FILE_DATA' | 'PAYLOAD_DATA',
  data: Uint8Array,
): Generator<Uint8Array> {
  const max = FRAME_MAX_LENGTHS[type];
  for (let start = 0; start < data.length; start += max) {
    yield encodeFrame(type, data.subarray(start, Math.min(data.length, start + max)));
  }
}

/** The parsed frame header. */
export interface FrameHeader {
  readonly type: FrameType;
  readonly length: number;
}

/**
 * Parses the 8 header bytes at `offset` (the stream offset, for error reports) and checks the type,
 * the reserved bytes and the length limit of the type.
 */
export function parseFrameHeader(bytes: Uint8Array, offset: number): FrameHeader {
  if (bytes.length < FRAME_HEADER_LENGTH) {
    throw new ParseError('frame.truncated', 'frame header cut short', offset + bytes.length);
  }
  const code = bytes[0] ?? 0;
  const type = TYPE_BY_CODE.get(code);
  if (type === undefined) {
    throw new ParseError('frame.type', `unknown frame type 0x${code.toString(16).padStart(2, '0')}`, offset);
  }
  for (let i = 1; i < 4; i++) {
    if (bytes[i] !== 0)
      throw new ParseError('frame.reserved', 'reserved frame header byte is not zero', offset + i);
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, false);
  const max = FRAME_MAX_LENGTHS[type];
  if (length > max) {
    throw new ParseError(
      'frame.too-large',
      `${type} frame declares ${length} payload bytes, the limit is ${max}`,
      offset + 4,
    );
  }
  return { type, length };
}

/** The operations of the worker, each with its own legal frame order. */
export type WorkerOp = 'query' | 'fetch' | 'download' | 'header' | 'unpack' | 'hello';

type SequenceState =
  'start' | 'hello' | 'head' | 'metadata' | 'file' | 'file-end' | 'payload' | 'query-result' | 'done';

/**
 * The explicit state machine of the worker→orchestrator stream, one per operation:
 *
 * - fetch, unpack: HELLO HEAD METADATA (FILE_BEGIN FILE_DATA* FILE_END)* END
 * - query:         HELLO PROGRESS* QUERY_RESULT END
 * - download:      HELLO HEAD PAYLOAD_DATA* END
 * - header:        HELLO HEAD END
 * - hello:         HELLO END (a round trip that only proves the worker runs)
 *
 * Elsewhere PROGRESS may come anywhere after HELLO and before END; ERROR may come anywhere and ends the
 * stream. Nothing may follow END or ERROR. The checker looks at types only; the contents (file
 * sizes, paths) are the orchestrator's to check against the signed header.
 */
export class FrameSequence {
  readonly op: WorkerOp;
  private state: SequenceState = 'start';
  private last: FrameType | null = null;
  private terminal: 'END' | 'ERROR' | null = null;

  constructor(op: WorkerOp) {
    this.op = op;
  }

  /** True once END or ERROR has been accepted. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** 'END' or 'ERROR' once the stream is over, else null. */
  get ending(): 'END' | 'ERROR' | null {
    return this.terminal;
  }

  /**
   * Accepts the next frame type or throws a ParseError ('frame.unexpected', or 'frame.after-end'
   * once the stream is over). `offset` is the frame's stream offset, for the error report.
   */
  accept(type: FrameType, offset = 0): void {
    if (this.state === 'done') {
      throw new ParseError('frame.after-end', `${type} frame after ${this.terminal}`, offset);
    }
    const next = this.transition(type);
    if (next === null) {
      const after = this.last === null ? 'at the start' : `after ${this.last}`;
      throw new ParseError('frame.unexpected', `${type} frame ${after} in a ${this.op} stream`, offset);
    }
    this.state = next;
    this.last = type;
    if (type === 'END' || type === 'ERROR') this.terminal = type;
  }

  /** Called at end of input: throws 'frame.truncated' unless END or ERROR was seen. */
  finish(offset = 0): void {
    if (this.state !== 'done') {
      const after = this.last === null ? 'before any frame' : `after ${this.last}`;
      throw new ParseError('frame.truncated', `${this.op} stream ended ${after} without END`, offset);
    }
  }

  private transition(type: FrameType): SequenceState | null {
    if (type === 'ERROR') return 'done';
    const s = this.state;
    // PROGRESS reports work in flight: not before HELLO, and in a query not after the result.
    if (type === 'PROGRESS') return s === 'start' || s === 'query-result' ? null : s;
    if (s === 'start') return type === 'HELLO' ? 'hello' : null;
    switch (this.op) {
      case 'query':
        if (s === 'hello' && type === 'QUERY_RESULT') return 'query-result';
        if (s === 'query-result' && type === 'END') return 'done';
        return null;
      case 'hello':
        return s === 'hello' && type === 'END' ? 'done' : null;
      case 'header':
        if (s === 'hello' && type === 'HEAD') return 'head';
        if (s === 'head' && type === 'END') return 'done';
        return null;
      case 'download':
        if (s === 'hello' && type === 'HEAD') return 'payload';
        if (s === 'payload' && type === 'PAYLOAD_DATA') return 'payload';
        if (s === 'payload' && type === 'END') return 'done';
        return null;
      case 'fetch':
      case 'unpack':
        if (s === 'hello' && type === 'HEAD') return 'head';
        if (s === 'head' && type === 'METADATA') return 'metadata';
        if ((s === 'metadata' || s === 'file-end') && type === 'FILE_BEGIN') return 'file';
        if (s === 'file' && type === 'FILE_DATA') return 'file';
        if (s === 'file' && type === 'FILE_END') return 'file-end';
        if ((s === 'metadata' || s === 'file-end') && type === 'END') return 'done';
        return null;
    }
  }
}

export interface DecodeFramesOptions {
  /**
   * Checks each frame's type against this state machine as soon as its header arrives (before its
   * payload is read), and fails with 'frame.after-end' on any byte after END or ERROR, and with
   * 'frame.truncated' when the input ends before them.
   */
  readonly sequence?: FrameSequence;
  /** Frame types the reader accepts at all (e.g. only REQUEST and PACKAGE_DATA on the worker side). */
  readonly types?: ReadonlySet<FrameType>;
}

/**
 * Streaming frame decoder. Buffers at most one frame: the header's 8 bytes, then the payload. The
 * payload buffer (of the declared length, already checked against the type's limit) is allocated
 * only when the first payload byte arrives, so a header alone costs nothing; each byte is copied
 * once, because the source may reuse its buffers after we yield back to it.
 */
export async function* decodeFrames(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: DecodeFramesOptions = {},
): AsyncGenerator<Frame> {
  const { sequence, types } = options;
  let offset = 0; // stream offset of the first byte not yet consumed
  let frameStart = 0;
  const header = new Uint8Array(FRAME_HEADER_LENGTH);
  let headerFill = 0;
  let current: FrameHeader | null = null;
  let payload: Uint8Array | null = null;
  let payloadFill = 0;

  const completeFrame = (): Frame => {
    const frame = { type: (current as FrameHeader).type, payload: payload ?? new Uint8Array(0) };
    current = null;
    payload = null;
    payloadFill = 0;
    headerFill = 0;
    return frame;
  };

  for await (const chunk of source) {
    let pos = 0;
    while (pos < chunk.length) {
      if (current === null) {
        if (sequence?.done) {
          throw new ParseError('frame.after-end', `bytes after ${sequence.ending}`, offset);
        }
        const take = Math.min(FRAME_HEADER_LENGTH - headerFill, chunk.length - pos);
        header.set(chunk.subarray(pos, pos + take), headerFill);
        if (headerFill === 0) frameStart = offset;
        headerFill += take;
        pos += take;
        offset += take;
        if (headerFill < FRAME_HEADER_LENGTH) break;
        current = parseFrameHeader(header, frameStart);
        if (types !== undefined && !types.has(current.type)) {
          throw new ParseError('frame.unexpected', `${current.type} frame is not accepted here`, frameStart);
        }
        sequence?.accept(current.type, frameStart);
        if (current.length === 0) {
          yield completeFrame();
          continue;
        }
      }
      const take = Math.min(current.length - payloadFill, chunk.length - pos);
      if (payload === null && take === current.length) {
        payload = chunk.slice(pos, pos + take);
      } else {
        payload ??= new Uint8Array(current.length);
        payload.set(chunk.subarray(pos, pos + take), payloadFill);
      }
      payloadFill += take;
      pos += take;
      offset += take;
      if (payloadFill === current.length) yield completeFrame();
    }
  }
  if (current !== null || headerFill > 0) {
    throw new ParseError(
      'frame.truncated',
      current === null ? 'input ended inside a frame header' : `input ended inside a ${current.type} frame`,
      offset,
    );
  }
  sequence?.finish(offset);
}
