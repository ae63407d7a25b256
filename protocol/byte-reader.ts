/**
 * A pull reader over a byte stream: the parsers ask for exactly the bytes they need.
 *
 * Buffers: at most one source chunk beyond what readExact returned, plus the bytes of the
 * current readExact request, which callers bound with their own named limits before asking;
 * MAX_READ_EXACT_BYTES is the backstop.
 */
import { ParseError, TmplError } from './errors.ts';

/** The largest single readExact request (the largest header tmpl accepts fits well inside). */
export const MAX_READ_EXACT_BYTES = 128 * 1024 * 1024;

export class ByteReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  /** Bytes received from the source but not yet handed out. */
  #pending: Uint8Array = new Uint8Array(0);
  #position = 0;
  #done = false;
  #restTaken = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** Bytes handed out so far (the stream offset of the next byte). */
  get position(): number {
    return this.#position;
  }

  /** Returns exactly n bytes, or throws ParseError 'stream.truncated' if the stream ends first. */
  async readExact(n: number): Promise<Uint8Array> {
    if (this.#restTaken) throw new TmplError('stream.consumed', 'rest() has taken the stream');
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_READ_EXACT_BYTES) {
      throw new TmplError('stream.read-too-large', `refusing to buffer ${n} bytes`);
    }
    if (this.#pending.length >= n) return this.#take(n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (;;) {
      const use = Math.min(this.#pending.length, n - filled);
      out.set(this.#pending.subarray(0, use), filled);
      filled += use;
      this.#pending = this.#pending.subarray(use);
      if (filled === n) break;
      const chunk = await this.#next();
      if (chunk === undefined) {
        this.#position += filled;
        throw new ParseError(
          'stream.truncated',
          `stream ended ${n - filled} bytes short of a ${n}-byte read`,
          this.#position,
        );
      }
      this.#pending = chunk;
    }
    this.#position += n;
    return out;
  }

  /** The remaining bytes of the stream, starting with any already buffered. Can be taken once. */
  async *rest(): AsyncIterable<Uint8Array> {
    if (this.#restTaken) throw new TmplError('stream.consumed', 'rest() has taken the stream');
    this.#restTaken = true;
    if (this.#pending.length > 0) {
      const first = this.#pending;
      this.#pending = new Uint8Array(0);
      this.#position += first.length;
      yield first;
    }
    for (;;) {
      const chunk = await this.#next();
      if (chunk === undefined) return;
      this.#position += chunk.length;
      yield chunk;
    }
  }

  #take(n: number): Uint8Array {
    const out = this.#pending.slice(0, n);
    this.#pending = this.#pending.subarray(n);
    this.#position += n;
    return out;
  }

  async #next(): Promise<Uint8Array | undefined> {
    while (!this.#done) {
      const r = await this.#iterator.next();
      if (r.done === true) {
        this.#done = true;
        return undefined;
      }
      const value: unknown = r.value;
      if (!(value instanceof Uint8Array)) {
        throw new TmplError('stream.not-bytes', 'the byte stream yielded something else');
      }
      if (value.length > 0) return value;
    }
    return undefined;
  }
}
