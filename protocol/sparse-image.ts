/**
 * Expands the events of `readSparseTar` into every byte of the image, for consumers that take
 * a dense stream (Qubes' admin.vm.volume.ImportWithSize reads exactly SIZE bytes, holes
 * included).
 *
 * Buffers nothing: holes come from one shared read-only-by-contract zero chunk, data events are
 * passed through as views cut to at most DENSE_CHUNK_SIZE bytes.
 */
import { TmplError } from './errors.ts';
import type { SparseTarEvent } from './sparse-tar.ts';

/** Largest chunk the dense stream yields. */
export const DENSE_CHUNK_SIZE = 64 * 1024;

/** Shared by every hole; consumers must not write to the chunks they receive. */
const ZEROS = new Uint8Array(DENSE_CHUNK_SIZE);

function* zeros(length: number): Generator<Uint8Array> {
  let left = length;
  while (left > 0) {
    const take = Math.min(left, DENSE_CHUNK_SIZE);
    yield ZEROS.subarray(0, take);
    left -= take;
  }
}

/** Exactly `realSize` bytes: the member's data with its holes filled by zeros. */
export async function* denseImageStream(
  events: AsyncIterable<SparseTarEvent>,
): AsyncGenerator<Uint8Array, void, undefined> {
  let realSize = -1;
  let position = 0;
  for await (const event of events) {
    if (event.type === 'member') {
      if (realSize !== -1) throw new TmplError('sparse.event-order', 'second member event');
      realSize = event.realSize;
      continue;
    }
    if (realSize === -1) throw new TmplError('sparse.event-order', 'data event before the member event');
    const end = event.offset + event.bytes.length;
    if (event.offset < position || end > realSize) {
      throw new TmplError(
        'sparse.event-order',
        `data event at ${event.offset} out of order or past the image`,
      );
    }
    yield* zeros(event.offset - position);
    for (let at = 0; at < event.bytes.length; at += DENSE_CHUNK_SIZE) {
      yield event.bytes.subarray(at, Math.min(at + DENSE_CHUNK_SIZE, event.bytes.length));
    }
    position = end;
  }
  if (realSize === -1) throw new TmplError('sparse.event-order', 'no member event');
  yield* zeros(realSize - position);
}
