/**
 * The Qubes builder's root.img packaging: one tar archive of the (sparse) image, split into
 * fixed-size parts root.img.part.00, .01, ... (`tar --sparse -cf - root.img | split -d -b 1G`).
 * Parts are written to a directory with their sizes and SHA-256 computed on the way, so the RPM
 * header (which lists both) can be built before the payload.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { ForgeError } from './errors.ts';
import { QUBES_PART_PREFIX, splitSuffix } from './split-parts.ts';

export type TarFormat = 'gnu-sparse' | 'pax-1.0' | 'plain';

export interface ImagePart {
  /** root.img.part.NN */
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** split(1)'s -d names: root.img.part.00 .. 89, then 9000 .. (coreutils widening). */
export function partName(index: number): string {
  return QUBES_PART_PREFIX + splitSuffix(index);
}

/** GNU tar as the archiver: the exact tool the Qubes builder runs. */
export async function* gnuTarImage(
  imagePath: string,
  memberName: string,
  format: TarFormat,
): AsyncGenerator<Uint8Array> {
  const args = [
    ...(format === 'plain' ? [] : ['--sparse']),
    ...(format === 'pax-1.0' ? ['--format=posix', '--sparse-version=1.0'] : ['--format=gnu']),
    '--transform',
    // GNU tar strips leading slashes from member names; a transform would keep them.
    `s|.*|${memberName.replace(/^\/+/, '').replace(/[|\\&]/g, '\\$&')}|`,
    '-C',
    path.dirname(imagePath),
    '-cf',
    '-',
    path.basename(imagePath),
  ];
  const child = execa('tar', args, { buffer: false, encoding: 'buffer', stdin: 'ignore' });
  // Awaited below; if the consumer stops early the rejection must not go unhandled.
  child.catch(() => undefined);
  let drained = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    }
    drained = true;
  } finally {
    if (!drained) child.kill();
  }
  await child;
}

/** Cuts `tar` into parts of `partSize` bytes in `dir`. */
export async function splitIntoParts(
  tar: AsyncIterable<Uint8Array>,
  partSize: number,
  dir: string,
): Promise<ImagePart[]> {
  if (!Number.isSafeInteger(partSize) || partSize <= 0) {
    throw new ForgeError('forge.bad-option', `part size must be a positive integer, got ${partSize}`);
  }
  const raw: { path: string; size: number; sha256: string }[] = [];
  let file: Awaited<ReturnType<typeof open>> | null = null;
  let hash = createHash('sha256');
  let filled = 0;
  const finish = async (): Promise<void> => {
    if (!file) return;
    await file.close();
    raw.push({ path: path.join(dir, `part-${raw.length}`), size: filled, sha256: hash.digest('hex') });
    file = null;
  };
  try {
    for await (const chunk of tar) {
      let at = 0;
      while (at < chunk.length) {
        if (!file) {
          file = await open(path.join(dir, `part-${raw.length}`), 'w');
          hash = createHash('sha256');
          filled = 0;
        }
        const n = Math.min(chunk.length - at, partSize - filled);
        const slice = chunk.subarray(at, at + n);
        await file.write(slice);
        hash.update(slice);
        filled += n;
        at += n;
        if (filled === partSize) await finish();
      }
    }
    await finish();
  } finally {
    if (file) await file.close();
  }
  return raw.map((p, i) => ({ ...p, name: partName(i) }));
}
