import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParseError } from '../../protocol/errors.ts';
import { readSparseTar, type SparseTarOptions } from '../../protocol/sparse-tar.ts';
import { hostileSparseTars } from '../../sim/forge/hostile-sparse-tars.ts';
import { putChecksum } from '../../sim/forge/tar-blocks.ts';
import { evenRegions, fromBytes, KiB, makeSparseImage, MiB } from '../helpers/sparse-images.ts';

/** Reads to the end; returns the error thrown, or null when the archive was accepted. */
async function outcome(chunks: AsyncIterable<Uint8Array>, options?: SparseTarOptions): Promise<unknown> {
  try {
    for await (const _ of readSparseTar(chunks, options)) {
      // drain
    }
    return null;
  } catch (error) {
    return error;
  }
}

async function expectRefused(
  bytes: Uint8Array,
  code: string,
  chunkSize?: number,
  options?: SparseTarOptions,
): Promise<void> {
  const error = await outcome(fromBytes(bytes, chunkSize), options);
  expect(error).toBeInstanceOf(ParseError);
  expect((error as ParseError).code).toBe(code);
  expect((error as ParseError).offset).toBeGreaterThanOrEqual(0);
  expect((error as ParseError).offset).toBeLessThanOrEqual(bytes.length);
}

let work: string;
let gnuArchive: Uint8Array;
let paxArchive: Uint8Array;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-sparse-malformed-'));
  const image = path.join(work, 'root.img');
  await makeSparseImage(image, {
    name: '30 extents',
    size: 4 * MiB,
    regions: evenRegions(30, 4 * KiB, 64 * KiB, 4 * KiB),
  });
  await execa('tar', ['--sparse', '-C', work, '-cf', path.join(work, 'gnu.tar'), 'root.img']);
  await execa('tar', [
    '--sparse',
    '--format=posix',
    '-C',
    work,
    '-cf',
    path.join(work, 'pax.tar'),
    'root.img',
  ]);
  gnuArchive = new Uint8Array(await readFile(path.join(work, 'gnu.tar')));
  paxArchive = new Uint8Array(await readFile(path.join(work, 'pax.tar')));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('readSparseTar refuses hostile archives with a stable code', () => {
  const hostile = hostileSparseTars();

  it('covers every attack the security tests rely on', () => {
    const names = hostile.map((h) => h.name);
    expect(new Set(names).size).toBe(names.length);
    for (const required of [
      'extent-overlap',
      'extent-out-of-order',
      'extent-past-real-size',
      'second-member',
      'symlink-member',
      'hardlink-member',
      'char-device-member',
      'truncated-in-data',
      'trailing-garbage',
      'bad-checksum',
      'base256-absurd-real-size',
      'endless-extension-chain',
    ]) {
      expect(names).toContain(required);
    }
  });

  for (const { name, code, bytes } of hostile) {
    it(`${name} -> ${code}`, async () => {
      await expectRefused(bytes, code);
      // Block boundaries never line up with input chunks in practice.
      await expectRefused(bytes, code, 509);
    });
  }
});

describe('readSparseTar on damaged real archives', () => {
  it('refuses every truncation as truncated', async () => {
    const end = gnuArchive.length - (gnuArchive.length % 512);
    // The archive's last non-zero byte, then the two end-of-archive blocks.
    let lastData = gnuArchive.length - 1;
    while (gnuArchive[lastData] === 0) lastData--;
    const endBlocksEnd = Math.ceil((lastData + 1) / 512) * 512 + 1024;
    expect(endBlocksEnd).toBeLessThanOrEqual(end);
    for (let cut = 1; cut < endBlocksEnd; cut += 97) {
      await expectRefused(gnuArchive.subarray(0, cut), 'sparse.truncated', 4096);
    }
    await expectRefused(new Uint8Array(0), 'sparse.no-member');
  });

  it('accepts the archive cut anywhere in its zero record padding at a block boundary, refuses a partial block', async () => {
    expect(await outcome(fromBytes(gnuArchive.subarray(0, gnuArchive.length - 512)))).toBeNull();
    await expectRefused(gnuArchive.subarray(0, gnuArchive.length - 100), 'sparse.trailing-garbage');
  });

  it('never fails with anything but a ParseError on random byte damage', async () => {
    // mulberry32: a small seeded generator, so a failure reproduces.
    let seed = 0x5eed;
    const random = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
    };
    const codes = new Set<string>();
    for (const original of [gnuArchive, paxArchive]) {
      for (let round = 0; round < 300; round++) {
        const damaged = original.slice();
        // Damage concentrated in the headers and maps, where the parser makes its decisions.
        const region = random(4) === 0 ? damaged.length : 3 * 512;
        for (let k = 1 + random(4); k > 0; k--) damaged[random(region)] = random(256);
        const error = await outcome(fromBytes(damaged, 256 + random(8192)));
        if (error !== null) {
          expect(error).toBeInstanceOf(ParseError);
          codes.add((error as ParseError).code);
        }
      }
    }
    expect(codes.size).toBeGreaterThan(3);
  });

  it('enforces the caller-lowered extent and size limits', async () => {
    await expectRefused(gnuArchive, 'sparse.extent-count', undefined, { maxExtents: 10 });
    await expectRefused(paxArchive, 'sparse.extent-count', undefined, { maxExtents: 10 });
    await expectRefused(gnuArchive, 'sparse.size-limit', undefined, { maxImageSize: 1 * MiB });
    expect(await outcome(fromBytes(gnuArchive), { maxExtents: 31 })).toBeNull();
    // Limits can only be lowered, and a NaN cannot switch them off.
    expect(await outcome(fromBytes(gnuArchive), { maxExtents: 2 ** 40 })).toBeNull();
    expect(await outcome(fromBytes(gnuArchive), { maxImageSize: Number.NaN })).toBeInstanceOf(RangeError);
  });

  it('accepts the signed header sum that old tars wrote, and rejects a sum that is neither', async () => {
    const archive = gnuArchive.slice();
    archive.set([0xc3, 0xa9], 0); // "é" in the name: bytes >= 0x80 make the two sums differ
    putChecksum(archive.subarray(0, 512));
    expect(await outcome(fromBytes(archive))).toBeNull();
    let signed = 0;
    for (let i = 0; i < 512; i++) {
      const byte = i >= 148 && i < 156 ? 0x20 : archive[i]!;
      signed += byte >= 0x80 ? byte - 256 : byte;
    }
    archive.set(new TextEncoder().encode(`${signed.toString(8).padStart(6, '0')}\0 `), 148);
    const events = [];
    for await (const event of readSparseTar(fromBytes(archive)))
      if (event.type === 'member') events.push(event);
    expect(events[0]?.name.startsWith('é')).toBe(true);
    archive.set(new TextEncoder().encode(`${(signed + 1).toString(8).padStart(6, '0')}\0 `), 148);
    await expectRefused(archive, 'sparse.header-checksum');
  });

  it('closes its input when the consumer stops early', async () => {
    let closed = false;
    const input = (async function* () {
      try {
        yield* fromBytes(gnuArchive, 1024);
      } finally {
        closed = true;
      }
    })();
    for await (const event of readSparseTar(input)) {
      if (event.type === 'data') break;
    }
    expect(closed).toBe(true);
  });
});
