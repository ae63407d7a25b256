import { describe, expect, it } from 'vitest';
import { ByteReader, MAX_READ_EXACT_BYTES } from '../../protocol/byte-reader.ts';
import { ParseError, TmplError } from '../../protocol/errors.ts';

async function* source(chunks: number[][]) {
  for (const c of chunks) yield await Promise.resolve(Uint8Array.from(c));
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const c of it) out.push(...c);
  return out;
}

describe('ByteReader', () => {
  it('reads exact spans across chunk boundaries, skipping empty chunks, and tracks the position', async () => {
    const r = new ByteReader(source([[1, 2], [], [3, 4, 5], [6], [7, 8, 9, 10]]));
    expect([...(await r.readExact(3))]).toEqual([1, 2, 3]);
    expect(r.position).toBe(3);
    expect([...(await r.readExact(0))]).toEqual([]);
    expect([...(await r.readExact(1))]).toEqual([4]);
    expect([...(await r.readExact(4))]).toEqual([5, 6, 7, 8]);
    expect(r.position).toBe(8);
    expect(await collect(r.rest())).toEqual([9, 10]);
    expect(r.position).toBe(10);
  });

  it('returns copies that later reads do not change', async () => {
    const r = new ByteReader(source([[1, 2, 3, 4]]));
    const a = await r.readExact(2);
    await r.readExact(2);
    expect([...a]).toEqual([1, 2]);
  });

  it('reports truncation with the offset where the stream ended', async () => {
    const r = new ByteReader(source([[1, 2], [3]]));
    await r.readExact(1);
    const e = await r.readExact(5).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ParseError);
    expect((e as ParseError).code).toBe('stream.truncated');
    expect((e as ParseError).offset).toBe(3);
  });

  it('refuses reads beyond its bound, negative or fractional sizes, and reads after rest()', async () => {
    const r = new ByteReader(source([[1]]));
    for (const n of [MAX_READ_EXACT_BYTES + 1, -1, 1.5, Number.NaN]) {
      const e = await r.readExact(n).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TmplError);
      expect((e as TmplError).code).toBe('stream.read-too-large');
    }
    expect(await collect(r.rest())).toEqual([1]);
    const e = await r.readExact(1).catch((x: unknown) => x);
    expect((e as TmplError).code).toBe('stream.consumed');
  });

  it('refuses a source that yields something other than bytes', async () => {
    async function* bad() {
      yield await Promise.resolve('text' as unknown as Uint8Array);
    }
    const e = await new ByteReader(bad()).readExact(1).catch((x: unknown) => x);
    expect((e as TmplError).code).toBe('stream.not-bytes');
  });

  it('pulls lazily: no chunk is read before it is needed', async () => {
    let pulled = 0;
    async function* counting() {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield await Promise.resolve(new Uint8Array(10).fill(i));
      }
    }
    const r = new ByteReader(counting());
    await r.readExact(15);
    expect(pulled).toBe(2);
  });
});
