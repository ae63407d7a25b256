/**
 * The worker's output cut into the replies of a session (protocol/request-sequence.ts): a reply
 * that another request follows ends just after its END or ERROR frame, and the bytes after it
 * are the next reply's. The cut reads only the 8-byte frame headers (type and length), copies
 * nothing and checks nothing: each reply's reader decodes and checks its frames itself, with
 * the limits of each type, exactly as it would read a worker that answers one request.
 *
 * The last reply is the rest of the output, uncut: its reader refuses any byte after END.
 */
import { FRAME_TYPE_CODES } from '../../protocol/frames.ts';
import { FRAME_HEADER_LENGTH } from '../../protocol/limits.ts';
import { OrchestratorError } from '../errors.ts';

const FINAL_TYPES: ReadonlySet<number> = new Set([FRAME_TYPE_CODES.END, FRAME_TYPE_CODES.ERROR]);

/** Finds where a reply ends: just after the payload of its first END or ERROR frame. */
class ReplyBoundary {
  readonly #header = new Uint8Array(FRAME_HEADER_LENGTH);
  #headerFill = 0;
  /** Payload bytes of the current frame still to come. */
  #payloadLeft = 0;
  #final = false;

  /** The index in `chunk` just past the reply's last byte, or -1 when the reply goes on. */
  scan(chunk: Uint8Array): number {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, chunk.length - pos);
        this.#payloadLeft -= take;
        pos += take;
        if (this.#payloadLeft === 0 && this.#final) return pos;
        continue;
      }
      const take = Math.min(FRAME_HEADER_LENGTH - this.#headerFill, chunk.length - pos);
      this.#header.set(chunk.subarray(pos, pos + take), this.#headerFill);
      this.#headerFill += take;
      pos += take;
      if (this.#headerFill < FRAME_HEADER_LENGTH) continue;
      this.#headerFill = 0;
      this.#final = FINAL_TYPES.has(this.#header[0]!);
      this.#payloadLeft = new DataView(this.#header.buffer).getUint32(4, false);
      if (this.#payloadLeft === 0 && this.#final) return pos;
    }
    return -1;
  }
}

export class ReplySplitter {
  readonly #source: AsyncIterator<Uint8Array>;
  /** Bytes read past the end of the previous reply. */
  #left: Uint8Array | undefined;
  #sourceEnded = false;
  #reading = false;
  /** A reply's reader stopped before its end: where the next one starts is unknown. */
  #lost = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** The next reply's bytes; `last`: the rest of the output. Read one reply at a time. */
  async *reply(last: boolean): AsyncGenerator<Uint8Array> {
    if (this.#reading || this.#lost) {
      throw new OrchestratorError(
        'worker.protocol',
        'the previous reply of this session was not read to its end',
      );
    }
    this.#reading = true;
    const boundary = last ? undefined : new ReplyBoundary();
    let complete = false;
    try {
      for (;;) {
        const chunk = this.#left ?? (await this.#pull());
        this.#left = undefined;
        if (chunk === undefined) {
          complete = true;
          return;
        }
        const end = boundary?.scan(chunk) ?? -1;
        if (end < 0) {
          yield chunk;
          continue;
        }
        if (end < chunk.length) this.#left = chunk.subarray(end);
        complete = true;
        yield chunk.subarray(0, end);
        return;
      }
    } finally {
      this.#reading = false;
      if (!complete) this.#lost = true;
    }
  }

  async #pull(): Promise<Uint8Array | undefined> {
    if (this.#sourceEnded) return undefined;
    const next = await this.#source.next();
    if (next.done === true) {
      this.#sourceEnded = true;
      return undefined;
    }
    return next.value;
  }
}
