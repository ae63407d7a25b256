/**
 * Decompression of repository data files (primary.xml.gz/.xz/.zst or plain), chosen by the
 * file's magic bytes, never by its name. The output size limit is enforced while bytes flow,
 * so a decompression bomb stops at the limit.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DecompressStream } from 'zstd-napi';
import { ParseError } from '../protocol/index.ts';
import type { MetadataChecksum } from './repomd.ts';

/** The data files decompressed here; their codes are `primary.compression`, `primary.too-large`, `primary.decompress`. */
export type MetadataPrefix = 'primary';

export type MetadataCompression = 'gzip' | 'xz' | 'zstd' | 'none';

/** liblzma's memory limit for one xz stream (xz -9 needs 65 MiB to decode). */
export const XZ_MEMORY_LIMIT = 128 * 1024 * 1024;
/** zstd window limit as a power of two (zstd's own default maximum, 128 MiB). */
export const ZSTD_WINDOW_LOG_MAX = 27;

const MAGIC: readonly [MetadataCompression, readonly number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/**
 * The compression of a data file by its magic bytes; 'none' for XML (which starts with '<',
 * optionally after a UTF-8 byte-order mark or whitespace). Anything else (bzip2, zchunk, ...)
 * is refused with `${prefix}.compression`.
 */
export function detectCompression(bytes: Uint8Array, prefix: MetadataPrefix): MetadataCompression {
  for (const [kind, magic] of MAGIC) {
    if (bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b)) return kind;
  }
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)
  )
    i++;
  if (bytes[i] === 0x3c) return 'none';
  throw new ParseError(`${prefix}.compression`, 'unknown compression (not gzip, xz, zstd or XML)', 0);
}

interface LzmaNative {
  createDecompressor(options: { memlimit: number; synchronous?: boolean }): Transform;
}

function createDecompressor(kind: Exclude<MetadataCompression, 'none'>): Transform {
  if (kind === 'gzip') return createGunzip();
  if (kind === 'zstd') return new DecompressStream({ windowLogMax: ZSTD_WINDOW_LOG_MAX });
  // lzma-native ships no type declarations; this is the part of its API used here.
  const lzma = createRequire(import.meta.url)('lzma-native') as LzmaNative;
  return lzma.createDecompressor({ memlimit: XZ_MEMORY_LIMIT });
}

/**
 * Decompresses a whole data file into memory, refusing output above `maxBytes`
 * (`${prefix}.too-large`) and corrupt or truncated input (`${prefix}.decompress`).
 * The output is buffered because the XML reader needs the whole document; the limit bounds it.
 */
export async function decompressMetadata(
  bytes: Uint8Array,
  maxBytes: number,
  prefix: MetadataPrefix,
): Promise<Uint8Array> {
  const kind = detectCompression(bytes, prefix);
  if (kind === 'none') {
    if (bytes.length > maxBytes) {
      throw new ParseError(`${prefix}.too-large`, `data larger than ${maxBytes} bytes`, maxBytes);
    }
    return bytes;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  // Set before the consumer throws: tearing the pipeline down can make the codec report an
  // error of its own first, and the limit is the real reason.
  let limitError: ParseError | undefined;
  const source = Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
  try {
    await pipeline(source, createDecompressor(kind), async (output: AsyncIterable<Buffer>) => {
      for await (const chunk of output) {
        total += chunk.length;
        if (total > maxBytes) {
          limitError = new ParseError(
            `${prefix}.too-large`,
            `decompressed data larger than ${maxBytes} bytes`,
            maxBytes,
          );
          throw limitError;
        }
        chunks.push(chunk);
      }
    });
  } catch (cause) {
    if (limitError !== undefined) throw limitError;
    if (cause instanceof ParseError) throw cause;
    throw new ParseError(`${prefix}.decompress`, `corrupt or truncated ${kind} data`, total, { cause });
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

/** Hex digest of bytes with a metadata checksum type. */
export function digestHex(bytes: Uint8Array, type: MetadataChecksum['type']): string {
  return createHash(type).update(bytes).digest('hex');
}
