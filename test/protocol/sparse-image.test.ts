import { describe, expect, it } from 'vitest';
import { TmplError } from '../../protocol/errors.ts';
import { denseImageStream, DENSE_CHUNK_SIZE } from '../../protocol/sparse-image.ts';
import type { SparseTarEvent } from '../../protocol/sparse-tar.ts';
import { collect } from '../helpers/sparse-images.ts';

async function* events(...list: SparseTarEvent[]): AsyncGenerator<SparseTarEvent> {
  for (const event of list) {
    await Promise.resolve();
    yield event;
  }
}

const member = (realSize: number): SparseTarEvent => ({
  type: 'member',
  name: 'root.img',
  format: 'gnu-sparse',
  realSize,
  extents: [],
});
const data = (offset: number, bytes: number[] | Uint8Array): SparseTarEvent => ({
  type: 'data',
  offset,
  bytes: Uint8Array.from(bytes),
});

describe('denseImageStream', () => {
  it('fills holes before, between and after data with zeros, exactly realSize bytes', async () => {
    const dense = await collect(
      denseImageStream(events(member(10), data(2, [1, 2]), data(4, [3]), data(7, [4]))),
    );
    expect([...dense]).toEqual([0, 0, 1, 2, 3, 0, 0, 4, 0, 0]);
  });

  it('cuts long holes and long data events into chunks of at most DENSE_CHUNK_SIZE', async () => {
    const big = new Uint8Array(3 * DENSE_CHUNK_SIZE + 5).fill(9);
    const sizes: number[] = [];
    let total = 0;
    for await (const chunk of denseImageStream(
      events(member(big.length + 5 * DENSE_CHUNK_SIZE), data(DENSE_CHUNK_SIZE * 2 + 1, big)),
    )) {
      sizes.push(chunk.length);
      total += chunk.length;
    }
    expect(total).toBe(big.length + 5 * DENSE_CHUNK_SIZE);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(DENSE_CHUNK_SIZE);
  });

  it('yields an empty stream for an empty image', async () => {
    expect((await collect(denseImageStream(events(member(0))))).length).toBe(0);
  });

  for (const [name, list] of [
    ['no member event', [data(0, [1])]],
    ['data before the member', [data(0, [1]), member(4)]],
    ['two members', [member(4), member(4)]],
    ['data out of order', [member(8), data(4, [1]), data(2, [1])]],
    ['data past the real size', [member(4), data(3, [1, 2])]],
    ['nothing at all', []],
  ] as const) {
    it(`refuses an event sequence with ${name}`, async () => {
      const error: unknown = await collect(denseImageStream(events(...list))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TmplError);
      expect((error as TmplError).code).toBe('sparse.event-order');
    });
  }
});
