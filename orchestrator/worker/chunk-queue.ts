/**
 * A bounded single-producer, single-consumer queue of byte chunks: the producer awaits `push`
 * while `capacity` chunks wait unread, so memory stays at most capacity × chunk size.
 */
export class Channel implements AsyncIterable<Uint8Array> {
  private readonly queue: Uint8Array[] = [];
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly capacity = 8) {}

  async push(chunk: Uint8Array): Promise<void> {
    if (this.ended || this.failure) throw new Error('push after end of channel');
    while (this.queue.length >= this.capacity && !this.failure) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    }
    const failure = this.failure as { error: unknown } | undefined;
    if (failure) throw failure.error;
    this.queue.push(chunk);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  /** The consumer's iteration throws `error`; a waiting producer is released with it too. */
  fail(error: unknown): void {
    if (!this.failure) this.failure = { error };
    this.wake();
  }

  private wake(): void {
    const consumer = this.wakeConsumer;
    const producer = this.wakeProducer;
    this.wakeConsumer = undefined;
    this.wakeProducer = undefined;
    consumer?.();
    producer?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      const chunk = this.queue.shift();
      if (chunk) {
        this.wake();
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }
}
