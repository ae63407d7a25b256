import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockExtents, ForgeError, seededBytes, writeSparseImage } from '../../sim/forge/index.ts';
import { partName, splitIntoParts } from '../../sim/forge/image-parts.ts';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-forge-image-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of source) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('image sources', () => {
  it('seeded bytes are deterministic, distinct per seed and chunked', async () => {
    const a = await collect(seededBytes('s', 3 * 1024 * 1024 + 5));
    expect(a.length).toBe(3 * 1024 * 1024 + 5);
    expect(a.equals(await collect(seededBytes('s', 3 * 1024 * 1024 + 5)))).toBe(true);
    expect(a.subarray(0, 64).equals(await collect(seededBytes('t', 64)))).toBe(false);
  });

  it('writes a sparse image with the extents at their offsets', async () => {
    const target = path.join(work, 'img');
    await writeSparseImage(target, {
      size: 1 << 24,
      extents: [
        { offset: 10, bytes: Uint8Array.of(1, 2, 3) },
        { offset: 1 << 23, length: 1000, seed: 'x' },
      ],
    });
    const info = await stat(target);
    expect(info.size).toBe(1 << 24);
    expect(info.blocks * 512).toBeLessThan(1 << 20);
    const bytes = await readFile(target);
    expect([...bytes.subarray(9, 14)]).toEqual([0, 1, 2, 3, 0]);
    expect(bytes.subarray(1 << 23, (1 << 23) + 1000).equals(await collect(seededBytes('x', 1000)))).toBe(
      true,
    );
  });

  it('refuses extents outside the image', async () => {
    const err = await writeSparseImage(path.join(work, 'bad'), {
      size: 100,
      extents: [{ offset: 90, bytes: new Uint8Array(20) }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForgeError);
    expect((err as ForgeError).code).toBe('forge.image-size');
  });

  it('widens extents to 512-byte blocks and merges neighbours', () => {
    expect(
      blockExtents(4096, [
        { offset: 1000, bytes: new Uint8Array(10) },
        { offset: 10, bytes: new Uint8Array(5) },
        { offset: 1030, length: 600, seed: 'a' },
        { offset: 4000, bytes: new Uint8Array(96) },
      ]),
    ).toEqual([
      { offset: 0, length: 2048 },
      { offset: 3584, length: 512 },
    ]);
  });
});

describe('parts', () => {
  it('names parts as split -d does', () => {
    expect([0, 9, 89, 90, 91].map(partName)).toEqual([
      'root.img.part.00',
      'root.img.part.09',
      'root.img.part.89',
      'root.img.part.9000',
      'root.img.part.9001',
    ]);
  });

  it('cuts a stream into exact parts on disk with their digests', async () => {
    const dir = await mkdtemp(path.join(work, 'parts-'));
    const data = await collect(seededBytes('p', 10_000));
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < data.length; i += 777) {
        await Promise.resolve();
        yield data.subarray(i, i + 777);
      }
    }
    const parts = await splitIntoParts(chunks(), 4096, dir);
    expect(parts.map((p) => [p.name, p.size])).toEqual([
      ['root.img.part.00', 4096],
      ['root.img.part.01', 4096],
      ['root.img.part.02', 1808],
    ]);
    const joined = Buffer.concat(await Promise.all(parts.map((p) => readFile(p.path))));
    expect(joined.equals(data)).toBe(true);
    const err = await splitIntoParts(chunks(), 0, dir).catch((e: unknown) => e);
    expect((err as ForgeError).code).toBe('forge.bad-option');
  });
});
