/**
 * Payload compressors rpm can read, named as PAYLOADCOMPRESSOR (tag 1125) names them, with the
 * rpmlib() feature each one needs (rpm's build/pack.c) and a streaming implementation.
 */
import { createRequire } from 'node:module';
import { Readable, type Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { execa } from 'execa';
import { CompressStream } from 'zstd-napi';
import { ForgeError } from './errors.ts';

export type ForgeCompressor = 'zstd' | 'xz' | 'gzip' | 'bzip2' | 'none';

export const FORGE_COMPRESSORS: readonly ForgeCompressor[] = ['zstd', 'xz', 'gzip', 'bzip2', 'none'];

export interface CompressorInfo {
  /** PAYLOADCOMPRESSOR value; null for an uncompressed payload, which rpm writes without the tag. */
  readonly tagValue: string | null;
  readonly defaultLevel: number;
  /** rpmlib(...) requirement and the version rpm writes for it. */
  readonly rpmlib: readonly [string, string] | null;
}

export const COMPRESSORS: Readonly<Record<ForgeCompressor, CompressorInfo>> = {
  zstd: { tagValue: 'zstd', defaultLevel: 3, rpmlib: ['rpmlib(PayloadIsZstd)', '5.4.18-1'] },
  xz: { tagValue: 'xz', defaultLevel: 2, rpmlib: ['rpmlib(PayloadIsXz)', '5.2-1'] },
  gzip: { tagValue: 'gzip', defaultLevel: 9, rpmlib: null },
  bzip2: { tagValue: 'bzip2', defaultLevel: 9, rpmlib: ['rpmlib(PayloadIsBzip2)', '3.0.5-1'] },
  none: { tagValue: null, defaultLevel: 0, rpmlib: null },
};

interface LzmaNative {
  createCompressor(options: { preset: number; check: number; threads?: number }): Transform;
  CHECK_SHA256: number;
}

function lzma(): LzmaNative {
  // lzma-native ships no type declarations; this is the part of its API used here.
  return createRequire(import.meta.url)('lzma-native') as LzmaNative;
}

/** Compresses `source` as a stream; memory is bounded by the codec's window. */
export async function* compressStream(
  compressor: ForgeCompressor,
  level: number,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  if (compressor === 'none') {
    yield* source;
    return;
  }
  if (compressor === 'bzip2') {
    yield* bzip2(level, source);
    return;
  }
  let transform: Transform;
  if (compressor === 'zstd') transform = new CompressStream({ compressionLevel: level });
  else if (compressor === 'gzip') transform = createGzip({ level });
  // rpm's xzdio writes a SHA-256 check; readers must cope with it, so the forge does the same.
  else transform = lzma().createCompressor({ preset: level, check: lzma().CHECK_SHA256, threads: 1 });
  const input = Readable.from(source, { objectMode: false });
  input.on('error', (e) => transform.destroy(e));
  input.pipe(transform);
  for await (const chunk of transform as AsyncIterable<Buffer>) {
    yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
  }
}

async function* bzip2(level: number, source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const child = execa('bzip2', [`-${Math.min(9, Math.max(1, level))}`, '-c'], {
    stdin: 'pipe',
    stdout: 'pipe',
    buffer: false,
    encoding: 'buffer',
  });
  // A dead bzip2 (or none at all) makes stdin writes fail with EPIPE; its exit status says why.
  child.stdin.on('error', () => undefined);
  // Its outcome is awaited below unless the source failed first; never leave it unhandled.
  child.catch(() => undefined);
  let sourceError: unknown = null;
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
      }
      child.stdin.end();
    } catch (error) {
      sourceError = error;
      child.kill();
    }
  })();
  let drained = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    }
    drained = true;
  } finally {
    // The consumer stopped early: bzip2 is not needed any more.
    if (!drained) child.kill();
    await feeding;
  }
  if (sourceError instanceof Error) throw sourceError;
  if (sourceError !== null) {
    throw new ForgeError('forge.compressor-failed', 'payload source failed', { cause: sourceError });
  }
  try {
    await child;
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT';
    throw new ForgeError(
      missing ? 'forge.compressor-unavailable' : 'forge.compressor-failed',
      missing ? 'bzip2 is not installed: cannot write a bzip2 payload' : 'bzip2 failed',
      { cause: error },
    );
  }
}
