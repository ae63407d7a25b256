/**
 * Template root images for the forge: an existing file, or a sparse file made from extents
 * (literal bytes, or deterministic pseudo-random bytes from a seed so tests can make large
 * distinct regions without holding them in memory).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { ForgeError } from './errors.ts';

export type ImageExtent =
  | { readonly offset: number; readonly bytes: Uint8Array }
  | { readonly offset: number; readonly length: number; readonly seed: string };

export type ImageSpec =
  { readonly path: string } | { readonly size: number; readonly extents: readonly ImageExtent[] };

/** Chunk size for writing seeded extents. */
const SEEDED_CHUNK = 1 << 20;

/**
 * `length` pseudo-random bytes determined by `seed` (AES-128-CTR keystream keyed by SHA-256 of
 * the seed), yielded in chunks of at most 1 MiB.
 */
export async function* seededBytes(seed: string, length: number): AsyncGenerator<Uint8Array> {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const zeros = new Uint8Array(SEEDED_CHUNK);
  let left = length;
  while (left > 0) {
    const n = Math.min(left, SEEDED_CHUNK);
    yield new Uint8Array(cipher.update(zeros.subarray(0, n)));
    left -= n;
  }
  await Promise.resolve();
}

/** Writes the extents into a new sparse file of `size` bytes at `target`. */
export async function writeSparseImage(
  target: string,
  spec: { readonly size: number; readonly extents: readonly ImageExtent[] },
): Promise<void> {
  const file = await open(target, 'w', 0o644);
  try {
    for (const extent of spec.extents) {
      const length = 'bytes' in extent ? extent.bytes.length : extent.length;
      if (extent.offset < 0 || extent.offset + length > spec.size) {
        throw new ForgeError(
          'forge.image-size',
          `extent at ${extent.offset} (+${length}) lies outside the image`,
        );
      }
      if ('bytes' in extent) {
        await file.write(extent.bytes, 0, extent.bytes.length, extent.offset);
        continue;
      }
      let at = extent.offset;
      for await (const chunk of seededBytes(extent.seed, extent.length)) {
        await file.write(chunk, 0, chunk.length, at);
        at += chunk.length;
      }
    }
    await file.truncate(spec.size);
  } finally {
    await file.close();
  }
}

/** GNU tar's sparse block. */
const TAR_BLOCK = 512;

/**
 * The data regions of an image made from `extents`, widened to 512-byte blocks and merged, as
 * GNU tar's raw hole detection would find them (assuming the extents hold non-zero data).
 */
export function blockExtents(
  size: number,
  extents: readonly ImageExtent[],
): { offset: number; length: number }[] {
  const spans = extents
    .map((e) => {
      const length = 'bytes' in e ? e.bytes.length : e.length;
      const start = Math.floor(e.offset / TAR_BLOCK) * TAR_BLOCK;
      const end = Math.min(size, Math.ceil((e.offset + length) / TAR_BLOCK) * TAR_BLOCK);
      return { start, end };
    })
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const merged: { offset: number; length: number }[] = [];
  for (const { start, end } of spans) {
    const last = merged.at(-1);
    if (last && start <= last.offset + last.length) {
      last.length = Math.max(last.length, end - last.offset);
    } else {
      merged.push({ offset: start, length: end - start });
    }
  }
  return merged;
}
