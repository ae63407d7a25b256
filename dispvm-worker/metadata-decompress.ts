/**
 * Decompression of repository data files (primary.xml.gz/.xz/.zst or plain), chosen by the
 * file's magic bytes, never by its name. The output size limit is enforced while bytes flow,
 * so a decompression bomb stops at the limit. The backends are the payload's (decompress.ts):
 * the native addons are loaded only when used, with the zstd and xz commands as fallbacks, so
 * a template without an addon still lists and installs, or says which dependency it lacks.
 */
import { createHash } from 'node:crypto';
import { ParseError, TmplError } from '../protocol/index.ts';
import { decompress } from './decompress.ts';
import type { MetadataChecksum } from './repomd.ts';

/** The data files decompressed here; their codes are `primary.compression`, `primary.too-large`, `primary.decompress`. */
export type MetadataPrefix = 'primary';

export type MetadataCompression = 'gzip' | 'xz' | 'zstd' | 'none';

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
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of decompress(kind, once(bytes), { maxBytes })) {
      total += chunk.length;
      chunks.push(chunk);
    }
  } catch (cause) {
    if (cause instanceof ParseError && cause.code === 'payload.too-large') {
      throw new ParseError(
        `${prefix}.too-large`,
        `decompressed data larger than ${maxBytes} bytes`,
        maxBytes,
      );
    }
    // An absent addon and command is the template's fault, not the data's.
    if (cause instanceof TmplError && cause.code === 'worker.missing-dependency') throw cause;
    throw new ParseError(`${prefix}.decompress`, `corrupt or truncated ${kind} data`, total, { cause });
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield await Promise.resolve(bytes);
}

/** Hex digest of bytes with a metadata checksum type. */
export function digestHex(bytes: Uint8Array, type: MetadataChecksum['type']): string {
  return createHash(type).update(bytes).digest('hex');
}
