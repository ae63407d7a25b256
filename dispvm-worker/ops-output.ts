/**
 * The worker's side of the frame stream: every frame goes through the schema of its type and
 * through the operation's FrameSequence, so the worker cannot emit a stream the orchestrator
 * would refuse for its form. Writes wait for 'drain' (backpressure reaches the producer: the
 * download is not read faster than the orchestrator takes the bytes).
 *
 * Buffers: the frame being written, nothing more.
 */
import type { Writable } from 'node:stream';
import {
  encodeFrame,
  encodeFrameHeader,
  FrameSequence,
  type FrameType,
  type WorkerOp,
} from '../protocol/frames.ts';
import {
  encodeMessageFrame,
  PROTOCOL_VERSION,
  type JsonFrameMessage,
  type JsonFrameType,
  type Progress,
} from '../protocol/messages.ts';
import { MAX_DATA_FRAME_LENGTH, MAX_REQUESTS_PER_SESSION } from '../protocol/limits.ts';
import { WorkerError } from './errors.ts';

/** Least time between two PROGRESS frames. */
export const PROGRESS_INTERVAL_MS = 500;

export class FrameWriter {
  readonly #out: Writable;
  #sequence: FrameSequence | null = null;
  /** Frames written before the operation is known (HELLO, or an ERROR for a bad request). */
  #early: FrameType[] = [];
  #broken: Error | null = null;
  #lastProgress = Number.NEGATIVE_INFINITY;
  /** Bytes sent in FILE_DATA or PAYLOAD_DATA frames. */
  dataBytes = 0;
  /** FILE_END frames sent. */
  files = 0;

  constructor(out: Writable) {
    this.#out = out;
    out.on('error', (error: Error) => {
      this.#broken ??= error;
    });
  }

  /** Starts the answer to the next request of the session: a new frame sequence and counts. */
  begin(): void {
    this.#sequence = null;
    this.#early = [];
    this.#lastProgress = Number.NEGATIVE_INFINITY;
    this.dataBytes = 0;
    this.files = 0;
  }

  /** Fixes the operation once the request is read; the frames already sent are checked against it. */
  setOp(op: WorkerOp): void {
    this.#sequence = new FrameSequence(op);
    for (const type of this.#early) this.#sequence.accept(type);
  }

  get ended(): boolean {
    return this.#sequence?.done ?? this.#early.includes('ERROR');
  }

  async hello(version: string): Promise<void> {
    await this.json('HELLO', {
      protocol: PROTOCOL_VERSION,
      worker: version,
      requests: MAX_REQUESTS_PER_SESSION,
    });
  }

  async json<T extends JsonFrameType>(type: T, message: JsonFrameMessage<T>): Promise<void> {
    await this.#write(type, encodeMessageFrame(type, message));
  }

  /**
   * Raw frames. File and payload data go out as a header and a view of `bytes` (at most
   * MAX_DATA_FRAME_LENGTH a frame) in one vectored write: the data is not copied into frames,
   * so `bytes` must stay unchanged once given (no producer here reuses its buffers: the
   * decompressors and cpio hand out fresh ones).
   */
  async raw(type: 'HEAD' | 'FILE_DATA' | 'PAYLOAD_DATA', bytes: Uint8Array): Promise<void> {
    if (type === 'HEAD') {
      await this.#write(type, encodeFrame('HEAD', bytes));
      return;
    }
    for (let start = 0; start < bytes.length; start += MAX_DATA_FRAME_LENGTH) {
      const payload = bytes.subarray(start, Math.min(bytes.length, start + MAX_DATA_FRAME_LENGTH));
      await this.#write(type, encodeFrameHeader(type, payload.length), payload);
    }
    this.dataBytes += bytes.length;
  }

  /** A PROGRESS frame, unless one went out less than PROGRESS_INTERVAL_MS ago (`force` sends anyway). */
  async progress(progress: Progress, force = false): Promise<void> {
    const now = performance.now();
    if (!force && now - this.#lastProgress < PROGRESS_INTERVAL_MS) return;
    this.#lastProgress = now;
    await this.json('PROGRESS', progress);
  }

  async end(): Promise<void> {
    await this.json('END', { files: this.files, bytes: this.dataBytes });
  }

  async #write(type: FrameType, frame: Uint8Array, payload?: Uint8Array): Promise<void> {
    if (this.#broken !== null) {
      throw new WorkerError('worker.output', `output closed: ${this.#broken.message}`, {
        cause: this.#broken,
      });
    }
    if (this.#sequence !== null) this.#sequence.accept(type);
    else this.#early.push(type);
    if (type === 'FILE_END') this.files++;
    let ready: boolean;
    if (payload === undefined) ready = this.#out.write(frame);
    else {
      this.#out.cork();
      this.#out.write(frame);
      ready = this.#out.write(payload);
      this.#out.uncork();
    }
    if (!ready) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.#out.off('error', onError);
          this.#out.off('close', onClose);
          resolve();
        };
        const onError = (error: Error): void => {
          this.#out.off('drain', onDrain);
          this.#out.off('close', onClose);
          reject(new WorkerError('worker.output', `output failed: ${error.message}`, { cause: error }));
        };
        const onClose = (): void => {
          this.#out.off('drain', onDrain);
          this.#out.off('error', onError);
          reject(new WorkerError('worker.output', 'output closed'));
        };
        this.#out.once('drain', onDrain);
        this.#out.once('error', onError);
        this.#out.once('close', onClose);
      });
    }
  }

  /** Flushes and ends the output stream. */
  async close(): Promise<void> {
    if (this.#out.writableEnded) return;
    await new Promise<void>((resolve) => {
      this.#out.end(() => resolve());
    });
  }
}
