/**
 * The simulator's framing of one qrexec connection over a Unix socket (its stand-in for the
 * vchan data connection): `type (1) | big-endian length (4) | payload`.
 *
 * client -> daemon: HELLO (first, once), STDIN*, STDIN_EOF (at most once, last)
 * daemon -> client: STDOUT* and STDERR* interleaved, then EXIT (last; 4-byte big-endian status)
 *
 * Data frames carry at most MAX_QREXEC_DATA_FRAME bytes; HELLO at most MAX_QREXEC_TEXT_FRAME.
 */
import { ParseError } from '../../protocol/errors.ts';
import { MAX_QREXEC_DATA_FRAME, MAX_QREXEC_TEXT_FRAME, QREXEC_FRAME_HEADER_LENGTH } from './limits.ts';

export const FrameType = {
  HELLO: 1,
  STDIN: 2,
  STDIN_EOF: 3,
  STDOUT: 4,
  STDERR: 5,
  EXIT: 6,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export interface Frame {
  readonly type: FrameType;
  readonly payload: Buffer;
}

const MAX_PAYLOAD: Record<FrameType, number> = {
  [FrameType.HELLO]: MAX_QREXEC_TEXT_FRAME,
  [FrameType.STDIN]: MAX_QREXEC_DATA_FRAME,
  [FrameType.STDIN_EOF]: 0,
  [FrameType.STDOUT]: MAX_QREXEC_DATA_FRAME,
  [FrameType.STDERR]: MAX_QREXEC_DATA_FRAME,
  [FrameType.EXIT]: 4,
};

export function encodeFrame(type: FrameType, payload: Uint8Array = new Uint8Array()): Buffer {
  if (payload.length > MAX_PAYLOAD[type])
    throw new RangeError(`frame ${type} payload too long: ${payload.length}`);
  const header = Buffer.alloc(QREXEC_FRAME_HEADER_LENGTH);
  header[0] = type;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** Data frames for `data`, split at MAX_QREXEC_DATA_FRAME. */
export function encodeDataFrames(
  type: typeof FrameType.STDIN | typeof FrameType.STDOUT | typeof FrameType.STDERR,
  data: Buffer,
): Buffer[] {
  const frames: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += MAX_QREXEC_DATA_FRAME) {
    frames.push(encodeFrame(type, data.subarray(offset, offset + MAX_QREXEC_DATA_FRAME)));
  }
  return frames;
}

export function encodeExit(status: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeInt32BE(status, 0);
  return encodeFrame(FrameType.EXIT, payload);
}

/**
 * Incremental decoder. Buffers at most one incomplete frame (header + MAX_QREXEC_DATA_FRAME);
 * `allowed` is the set of frame types the reading side accepts.
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private offset = 0;

  constructor(private readonly allowed: ReadonlySet<FrameType>) {}

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= QREXEC_FRAME_HEADER_LENGTH) {
      const type = this.pending[0]!;
      if (!this.allowed.has(type as FrameType)) {
        throw new ParseError('qrexec.frame.type', `unexpected frame type ${type}`, this.offset);
      }
      const length = this.pending.readUInt32BE(1);
      if (length > MAX_PAYLOAD[type as FrameType]) {
        throw new ParseError('qrexec.frame.length', `frame type ${type} of ${length} bytes`, this.offset + 1);
      }
      const total = QREXEC_FRAME_HEADER_LENGTH + length;
      if (this.pending.length < total) break;
      frames.push({
        type: type as FrameType,
        payload: this.pending.subarray(QREXEC_FRAME_HEADER_LENGTH, total),
      });
      this.pending = this.pending.subarray(total);
      this.offset += total;
    }
    return frames;
  }

  /** Bytes of an incomplete frame still buffered (non-zero at end of stream means truncation). */
  get buffered(): number {
    return this.pending.length;
  }
}

export const CLIENT_FRAMES: ReadonlySet<FrameType> = new Set([
  FrameType.HELLO,
  FrameType.STDIN,
  FrameType.STDIN_EOF,
]);
export const DAEMON_FRAMES: ReadonlySet<FrameType> = new Set([
  FrameType.STDOUT,
  FrameType.STDERR,
  FrameType.EXIT,
]);
