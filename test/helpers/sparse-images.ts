/**
 * Sparse image fixtures for the root-image tar tests: files with holes made with ftruncate and
 * positioned writes (ext4 and tmpfs report the written blocks as data to SEEK_DATA, which is
 * what GNU tar --sparse uses), plus helpers to compare images without reading their holes.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { SparseExtent } from '../../protocol/sparse-tar.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export interface ImageLayout {
  readonly name: string;
  readonly size: number;
  /** Data regions: 4 KiB-aligned starts, lengths in whole 4 KiB blocks or reaching the end of the file. */
  readonly regions: readonly SparseExtent[];
}

/** Non-zero, position-dependent bytes, so a misplaced region changes the digest. */
export function patternBytes(offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const p = offset + i;
    bytes[i] = ((p * 2654435761) >>> 24) | 1;
  }
  return bytes;
}

export async function makeSparseImage(path: string, layout: ImageLayout): Promise<void> {
  const file = await open(path, 'w', 0o644);
  try {
    await file.truncate(layout.size);
    for (const { offset, length } of layout.regions) {
      await file.write(patternBytes(offset, length), 0, length, offset);
    }
  } finally {
    await file.close();
  }
}

/** `count` regions of `length` bytes, one every `stride` bytes from `start`. */
export function evenRegions(count: number, start: number, stride: number, length: number): SparseExtent[] {
  return Array.from({ length: count }, (_, i) => ({ offset: start + i * stride, length }));
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** sha256 over the bytes of the given regions only (for images too large to read whole). */
export async function sha256Regions(path: string, regions: readonly SparseExtent[]): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  try {
    for (const { offset, length } of regions) {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/** Apparent size and allocated bytes. */
export async function sizes(path: string): Promise<{ size: number; allocated: number }> {
  const info = await stat(path);
  return { size: info.size, allocated: info.blocks * 512 };
}

/** Yields the concatenation of files, each in chunks of `chunkSize` (default: the fs stream's). */
export async function* readFiles(paths: readonly string[], chunkSize?: number): AsyncGenerator<Uint8Array> {
  for (const path of paths) {
    for await (const chunk of createReadStream(
      path,
      chunkSize === undefined ? {} : { highWaterMark: chunkSize },
    )) {
      yield chunk as Buffer;
    }
  }
}

/** `bytes` in chunks of `chunkSize`, each arriving in its own turn as from a stream. */
export async function* fromBytes(
  bytes: Uint8Array,
  chunkSize = bytes.length || 1,
): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += chunkSize) {
    await Promise.resolve();
    yield bytes.subarray(at, at + chunkSize);
  }
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk.slice());
  return Buffer.concat(parts);
}
