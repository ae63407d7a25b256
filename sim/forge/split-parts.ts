/**
 * `split -d -b SIZE - root.img.part.` in TypeScript: the Qubes builder splits the root-image tar
 * into 1 GiB parts named with numeric suffixes (coreutils split, auto-widening suffixes).
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { ForgeError } from './errors.ts';

/** The Qubes builder's part size. */
export const QUBES_PART_SIZE = 1024 ** 3;
export const QUBES_PART_PREFIX = 'root.img.part.';

/**
 * The suffix coreutils split -d gives part `index`: two digits, widening by two each time the
 * leading digits run out (00..89, 9000..9899, 990000..998999, ...).
 */
export function splitSuffix(index: number): string {
  let width = 2;
  let first = 0;
  let prefix = '';
  for (;;) {
    const count = 9 * 10 ** (width - prefix.length - 1);
    if (index < first + count) return prefix + String(index - first).padStart(width - prefix.length, '0');
    first += count;
    prefix += '9';
    width += 2;
  }
}

/** Re-chunks a stream into parts of exactly `partSize` bytes (the last may be shorter); holds one part. */
export async function* splitStream(
  stream: AsyncIterable<Uint8Array>,
  partSize: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (!Number.isSafeInteger(partSize) || partSize <= 0)
    throw new ForgeError('forge.bad-option', `bad part size ${partSize}`);
  let part = new Uint8Array(partSize);
  let filled = 0;
  for await (const chunk of stream) {
    for (let at = 0; at < chunk.length;) {
      const take = Math.min(partSize - filled, chunk.length - at);
      part.set(chunk.subarray(at, at + take), filled);
      filled += take;
      at += take;
      if (filled === partSize) {
        yield part;
        part = new Uint8Array(partSize);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield part.slice(0, filled);
}

/**
 * Writes the stream to `dir`/`prefix`NN files of `partSize` bytes, streaming (no part is held in
 * memory). Returns the paths in order.
 */
export async function writeSplitParts(
  stream: AsyncIterable<Uint8Array>,
  dir: string,
  options: { readonly partSize?: number; readonly prefix?: string } = {},
): Promise<string[]> {
  const partSize = options.partSize ?? QUBES_PART_SIZE;
  const prefix = options.prefix ?? QUBES_PART_PREFIX;
  if (!Number.isSafeInteger(partSize) || partSize <= 0)
    throw new ForgeError('forge.bad-option', `bad part size ${partSize}`);
  const paths: string[] = [];
  let file: Awaited<ReturnType<typeof open>> | null = null;
  let filled = 0;
  try {
    for await (const chunk of stream) {
      for (let at = 0; at < chunk.length;) {
        if (file === null) {
          const partPath = path.join(dir, prefix + splitSuffix(paths.length));
          file = await open(partPath, 'w', 0o644);
          paths.push(partPath);
          filled = 0;
        }
        const take = Math.min(partSize - filled, chunk.length - at);
        await file.write(chunk.subarray(at, at + take));
        filled += take;
        at += take;
        if (filled === partSize) {
          await file.close();
          file = null;
        }
      }
    }
  } finally {
    await file?.close();
  }
  return paths;
}
