/**
 * Unpacks an RPM payload against its (signature-checked) header: PAYLOADDIGEST over the
 * compressed bytes as they stream, decompression, the cpio archive, and every file checked
 * against FILEDIGESTS, FILESIZES/LONGFILESIZES, FILEMODES and FILELINKTOS. Nothing in the
 * payload is trusted: the header decides what may be in it.
 *
 * rpm's own rules (lib/rpmfi.cc iterReadArchiveNext): every archive entry must be in the file
 * list, every non-ghost file must be in the archive. tmpl is stricter where rpm is lenient: no
 * ghost files in the archive (rpm skips them), no duplicates and header order only (rpm's
 * writer never does otherwise), sizes and modes must match the header (rpm takes the header's
 * size and ignores the archive's), and no hard links (template packages have none; without the
 * header's inode list their empty first links cannot be told from a size lie).
 */
import { createHash, type Hash } from 'node:crypto';
import { ParseError, TmplError, VerificationError } from '../protocol/index.ts';
import type { DigestAlgorithm, PackageInfo, RpmFileEntry } from '../protocol/rpm-types.ts';
import { parseCpio, S_IFLNK, S_IFREG, type CpioEntry } from './cpio.ts';
import { decompress, MAX_DECOMPRESSED_PAYLOAD_BYTES, type DecompressBackend } from './decompress.ts';
import type { PayloadErrorCode } from '../protocol/error-codes.ts';
export type { PayloadErrorCode };

/** RPMFILE_GHOST (rpm include/rpm/rpmfiles.h): listed in the header, absent from the payload. */
export const RPMFILE_GHOST = 1 << 6;
/** File digest algorithms accepted: MD5 and SHA-1 are broken, SHA-224 is never written by rpm. */
export const ACCEPTED_FILE_DIGESTS: ReadonlySet<DigestAlgorithm> = new Set(['sha256', 'sha384', 'sha512']);
/** Per-entry overhead bound of a newc entry: header, padding of name and data. */
const NEWC_HEADER_SIZE = 110;
/** The trailer entry with its padding. */
const TRAILER_SIZE = 124;

export interface UnpackOptions {
  /**
   * Install paths to hand to the consumer; other files are read and digest-checked but not
   * yielded. Default: all files.
   */
  readonly allowedPaths?: ReadonlySet<string> | ((path: string) => boolean);
  /** Tighter cap on the decompressed payload (the header already bounds it). */
  readonly maxPayloadBytes?: number;
  /** Accept a package without PAYLOADDIGEST (rpm < 4.14); file digests still bind the content. */
  readonly allowMissingPayloadDigest?: boolean;
  /** Decompressor backends to try, in order (default: the measured fastest available). */
  readonly backends?: readonly DecompressBackend[];
}

export interface PayloadEntry {
  /** Install path, from the header's file list. */
  readonly path: string;
  /** Index in PackageInfo.files. */
  readonly fileIndex: number;
  readonly mode: number;
  readonly size: number;
  /**
   * The data, iterable once (a symlink yields its target, a directory nothing). A regular file's
   * stream throws VerificationError 'digest.file-mismatch' instead of ending if its digest is
   * wrong; the consumer never sees the end of a file that does not match.
   */
  readonly content: AsyncIterable<Uint8Array>;
}

const encoder = new TextEncoder();

/** Upper bound of the decompressed archive for this file list (exact for rpm's newc layout). */
export function payloadSizeBound(files: readonly RpmFileEntry[]): number {
  let total = TRAILER_SIZE;
  for (const f of files) {
    if ((f.flags & RPMFILE_GHOST) !== 0) continue;
    const nameSize = encoder.encode(f.path).length + 2; // "." + path + NUL
    const header = NEWC_HEADER_SIZE + nameSize;
    total += header + ((4 - (header % 4)) % 4) + f.size + 3;
  }
  return total;
}

function hexEquals(hash: Hash, expected: string): boolean {
  return hash.digest('hex') === expected;
}

/** Hashes the compressed bytes as they pass; checks PAYLOADDIGEST when the input ends. */
class PayloadDigest {
  verified = false;
  readonly #hash: Hash | null;
  readonly #expected: string | null;

  constructor(info: PackageInfo) {
    this.#expected = info.payloadDigest;
    this.#hash =
      info.payloadDigestAlgo !== null && info.payloadDigest !== null
        ? createHash(info.payloadDigestAlgo)
        : null;
  }

  async *pass(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let offset = 0;
    for await (const chunk of source) {
      this.#hash?.update(chunk);
      offset += chunk.length;
      yield chunk;
    }
    if (this.#hash !== null && this.#expected !== null && !hexEquals(this.#hash, this.#expected)) {
      throw new VerificationError('digest.payload-mismatch', `payload digest mismatch after ${offset} bytes`);
    }
    this.verified = true;
  }
}

/** Regular file data with its digest checked before the stream is allowed to end. */
async function* verifiedContent(
  entry: CpioEntry,
  file: RpmFileEntry,
  algo: DigestAlgorithm,
): AsyncGenerator<Uint8Array> {
  const hash = createHash(algo);
  for await (const chunk of entry.content) {
    hash.update(chunk);
    yield chunk;
  }
  if (!hexEquals(hash, file.digest)) {
    throw new VerificationError('digest.file-mismatch', `${file.path}: content does not match FILEDIGESTS`);
  }
}

async function readSymlink(entry: CpioEntry): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of entry.content) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

function allowedBy(opt: UnpackOptions['allowedPaths']): (path: string) => boolean {
  if (opt === undefined) return () => true;
  if (typeof opt === 'function') return opt;
  return (p) => opt.has(p);
}

function checkInfo(info: PackageInfo, opts: UnpackOptions): void {
  if (info.payloadFormat !== 'cpio') {
    throw new TmplError('payload.format', `payload format '${info.payloadFormat}' is not cpio`);
  }
  if (!ACCEPTED_FILE_DIGESTS.has(info.fileDigestAlgo)) {
    throw new VerificationError(
      'digest.file-algorithm',
      `file digests use ${info.fileDigestAlgo}, which tmpl refuses`,
    );
  }
  if (info.payloadDigest === null && opts.allowMissingPayloadDigest !== true) {
    throw new VerificationError('digest.payload-missing', 'header has no PAYLOADDIGEST');
  }
  if (info.payloadDigestAlgo !== null && !ACCEPTED_FILE_DIGESTS.has(info.payloadDigestAlgo)) {
    throw new VerificationError('digest.file-algorithm', `payload digest uses ${info.payloadDigestAlgo}`);
  }
}

/** Matches an archive entry to its header file; throws unless it is the next one rpm would write. */
function matchEntry(
  entry: CpioEntry,
  info: PackageInfo,
  index: ReadonlyMap<string, number>,
  previous: number,
): number {
  const fx = entry.fileIndex ?? index.get(entry.path);
  const file = fx === undefined ? undefined : info.files[fx];
  if (fx === undefined || file === undefined) {
    throw new VerificationError('payload.unlisted-file', `${entry.path} is not in the header's file list`);
  }
  if ((file.flags & RPMFILE_GHOST) !== 0) {
    throw new VerificationError('payload.ghost-file', `${file.path} is a %ghost file but is in the payload`);
  }
  if (fx <= previous) {
    throw new VerificationError('payload.file-order', `${file.path} is repeated or out of header order`);
  }
  if (entry.mode !== file.mode) {
    throw new VerificationError(
      'payload.mode-mismatch',
      `${file.path}: mode ${entry.mode.toString(8)} != ${file.mode.toString(8)}`,
    );
  }
  const type = file.mode & 0o170000;
  if (type === S_IFREG && entry.nlink !== null && entry.nlink > 1) {
    throw new VerificationError('payload.hardlink', `${file.path} is a hard link`);
  }
  const expectedSize = type === S_IFREG || type === S_IFLNK ? file.size : 0;
  if (entry.size !== expectedSize) {
    throw new VerificationError(
      'payload.size-mismatch',
      `${file.path}: size ${entry.size} != ${expectedSize}`,
    );
  }
  if (type === S_IFREG && file.digest === '') {
    throw new VerificationError('digest.file-missing', `${file.path} has no FILEDIGESTS entry`);
  }
  return fx;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  if (bytes.length > 0) yield await Promise.resolve(bytes);
}

/**
 * Unpacks and verifies a payload, yielding the allowed files one at a time in archive order.
 * The consumer must finish (or abandon) one entry's content before asking for the next; what it
 * leaves is read and verified before the next entry.
 *
 * Files outside allowedPaths are still read through their digest check: the archive has to be
 * read through them anyway, hashing costs less than the decompression that produced the bytes,
 * and a package that lies about any file is refused whole, as rpm refuses to install it.
 */
export async function* unpackPayload(
  info: PackageInfo,
  payload: AsyncIterable<Uint8Array>,
  opts: UnpackOptions = {},
): AsyncGenerator<PayloadEntry> {
  checkInfo(info, opts);
  const allowed = allowedBy(opts.allowedPaths);
  const index = new Map<string, number>();
  info.files.forEach((f, i) => index.set(f.path, i));
  const digest = new PayloadDigest(info);
  const maxBytes = Math.min(
    opts.maxPayloadBytes ?? MAX_DECOMPRESSED_PAYLOAD_BYTES,
    payloadSizeBound(info.files),
  );
  const cpio = decompress(info.payloadCompressor, digest.pass(payload), {
    maxBytes,
    ...(opts.backends !== undefined ? { backends: opts.backends } : {}),
  });
  const seen = new Uint8Array(info.files.length);
  let previous = -1;
  for await (const entry of parseCpio(cpio, { files: info.files })) {
    const fx = matchEntry(entry, info, index, previous);
    const file = info.files[fx]!;
    previous = fx;
    seen[fx] = 1;
    const type = file.mode & 0o170000;
    let content: AsyncIterable<Uint8Array>;
    if (type === S_IFLNK) {
      const target = await readSymlink(entry);
      if (target !== file.linkTo) {
        throw new VerificationError(
          'payload.symlink-mismatch',
          `${file.path}: link target differs from FILELINKTOS`,
        );
      }
      content = once(encoder.encode(target));
    } else if (type === S_IFREG) {
      content = verifiedContent(entry, file, info.fileDigestAlgo);
    } else {
      content = once(new Uint8Array(0));
    }
    if (allowed(file.path)) {
      const inner = content[Symbol.asyncIterator]();
      let failure: { error: unknown } | undefined;
      let started = false;
      // return() from a consumer that stops early does not end the inner stream: what it leaves
      // is read and verified below, so a bad digest never goes unnoticed.
      const handed: AsyncIterator<Uint8Array> = {
        next: async () => {
          try {
            return await inner.next();
          } catch (error) {
            failure = { error };
            throw error;
          }
        },
        return: () => Promise.resolve({ done: true, value: undefined }),
      };
      yield {
        path: file.path,
        fileIndex: fx,
        mode: file.mode,
        size: type === S_IFREG || type === S_IFLNK ? file.size : 0,
        content: {
          [Symbol.asyncIterator]: () => {
            if (started) throw new TmplError('payload.content-consumed', 'entry content is iterable once');
            started = true;
            return handed;
          },
        },
      };
      if (failure !== undefined) throw failure.error;
      for (let r = await inner.next(); r.done !== true; r = await inner.next()) void r.value;
    } else {
      for await (const chunk of content) void chunk;
    }
  }
  info.files.forEach((f, i) => {
    if (seen[i] === 0 && (f.flags & RPMFILE_GHOST) === 0) {
      throw new VerificationError(
        'payload.missing-file',
        `${f.path} is in the header but not in the payload`,
      );
    }
  });
  if (!digest.verified && info.payloadDigest !== null) {
    throw new ParseError('payload.trailing-data', 'compressed data continues after the archive', 0);
  }
}
