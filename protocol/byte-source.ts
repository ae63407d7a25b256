/**
 * Pull-based reader over an `AsyncIterable<Uint8Array>` that tracks the absolute byte offset.
 *
 * Buffers: at most one input chunk (the current one) plus, when a fixed-size read straddles
 * chunks, one copy of exactly the requested size. Spans are handed out as views of the input
 * chunks, so a multi-gigabyte member never accumulates in memory.
 */
import { ParseError } from './errors.ts';

export class ByteSource {
  /** Absolute offset of the next unread byte. */
  offset = 0;
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private position = 0;
  private ended = false;

  constructor(input: AsyncIterable<Uint8Array>) {
    this.iterator = input[Symbol.asyncIterator]();
  }

  /** Makes bytes available in `chunk`; false at end of input. */
  private async fill(): Promise<boolean> {
    while (this.position >= this.chunk.length) {
      if (this.ended) return false;
      const next = await this.iterator.next();
      if (next.done === true) {
        this.ended = true;
        return false;
      }
      if (!(next.value instanceof Uint8Array)) {
        throw new TypeError('sparse tar input must yield Uint8Array chunks');
      }
      this.chunk = next.value;
      this.position = 0;
    }
    return true;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /**
   * Exactly `length` bytes (the caller bounds `length`), or null when the input ends cleanly
   * before the first byte. Ending part-way is truncation.
   */
  async readExact(length: number): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    const available = this.chunk.length - this.position;
    if (available >= length) {
      const view = this.chunk.subarray(this.position, this.position + length);
      this.position += length;
      this.offset += length;
      return view;
    }
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (!(await this.fill())) {
        throw new ParseError('sparse.truncated', 'archive ends inside a block', this.offset);
      }
      const take = Math.min(length - filled, this.chunk.length - this.position);
      out.set(this.chunk.subarray(this.position, this.position + take), filled);
      this.position += take;
      this.offset += take;
      filled += take;
    }
    return out;
  }

  /** Like readExact, but the end of input is truncation too. */
  async require(length: number): Promise<Uint8Array> {
    const bytes = await this.readExact(length);
    if (bytes === null) {
      throw new ParseError('sparse.truncated', 'archive ends early', this.offset);
    }
    return bytes;
  }

  /** Views of the next `length` bytes, in order; truncation if the input ends first. */
  async *span(length: number): AsyncGenerator<Uint8Array> {
    let left = length;
    while (left > 0) {
      if (!(await this.fill())) {
        throw new ParseError('sparse.truncated', 'archive ends inside member data', this.offset);
      }
      const take = Math.min(left, this.chunk.length - this.position);
      const view = this.chunk.subarray(this.position, this.position + take);
      this.position += take;
      this.offset += take;
      left -= take;
      yield view;
    }
  }

  /** A view of up to `max` next bytes, or null at end of input. */
  async readSome(max: number): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    const take = Math.min(max, this.chunk.length - this.position);
    const view = this.chunk.subarray(this.position, this.position + take);
    this.position += take;
    this.offset += take;
    return view;
  }

  /** Skips `length` bytes; truncation if the input ends first. */
  async skip(length: number): Promise<void> {
    for await (const _ of this.span(length)) {
      // consumed
    }
  }

  /** Releases the underlying iterator early (on error or when the consumer stops). */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.iterator.return?.();
    }
  }
}
