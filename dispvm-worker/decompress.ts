/**
 * Streaming decompression of RPM payloads (untrusted: the compressed bytes come from the
 * network). The compressor is read from the magic bytes and must agree with the header's
 * PAYLOADCOMPRESSOR; the decompressed size is capped while bytes flow.
 *
 * Backends, measured on the 2-core build machine with `npm run bench:payload` (a 200 MiB
 * template-shaped payload, unpackPayload end to end: payload digest, decompression, cpio, file
 * digests; MiB/s of decompressed payload, load average under 2):
 *   zstd -3:  zstd-napi 394, zstd CLI 277       gzip -9: node:zlib 196, gzip CLI 83
 *   xz -2:    xz CLI 31, lzma-native 10         (rpm2cpio | cpio -idm: 371, 261, 36)
 * and earlier, under heavy load, decompression + SHA-256 alone: lzma -6 xz CLI 2x lzma-native;
 * bzip2 -9 CLI only.
 * So: zstd in process (zstd-napi) with the CLI as fallback; xz and lzma through the xz CLI with
 * lzma-native as fallback; gzip in process (node:zlib ships with Node); bzip2 only through its
 * CLI (no pure-JS decoder is worth a dependency for a compressor rpm has not defaulted to in
 * years). The child processes also put decompression on the second core while this process
 * hashes. fzstd (pure JS) was not installed or measured here; the shared tooling notes for this
 * machine measured it about 4x slower than zstd-napi.
 *
 * Over 300 lines: one backend per compressor with its fallback, behind one streaming interface and
 * one size cap.
 */
import { access, constants } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import { ParseError, TmplError } from '../protocol/index.ts';
import type { PayloadCompressor } from '../protocol/rpm-types.ts';
import type { DecompressErrorCode } from '../protocol/error-codes.ts';
export type { DecompressErrorCode };

/**
 * The largest decompressed payload accepted. Template payloads are a few GiB of split tar parts
 * (root.img is stored sparse); 64 GiB leaves room for the largest template images while still
 * stopping a decompression bomb. Callers pass a tighter bound when they know one.
 */
export const MAX_DECOMPRESSED_PAYLOAD_BYTES = 64 * 1024 ** 3;
/** liblzma's memory limit (xz -9 and lzma -9 need 65 MiB to decode). */
export const LZMA_MEMORY_LIMIT_BYTES = 128 * 1024 * 1024;
/** zstd window limit as a power of two: zstd's default maximum for decoding (128 MiB). */
export const ZSTD_WINDOW_LOG_MAX = 27;
/** Bytes of the payload's start needed to recognise every supported format. */
export const MAGIC_PROBE_LENGTH = 6;

const MAGIC: readonly (readonly [PayloadCompressor, readonly number[]])[] = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]], // "BZh"
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  // lzma_alone: properties byte 0x5d (lc=3 lp=0 pb=2, what xz-utils writes) and a dictionary
  // size whose low two bytes are zero (every preset's dictionary is a multiple of 64 KiB).
  ['lzma', [0x5d, 0x00, 0x00]],
  ['none', [0x30, 0x37, 0x30, 0x37]], // "0707": an uncompressed cpio archive
];

/** The payload's compressor by its magic bytes; refuses anything else. */
export function detectCompressor(firstBytes: Uint8Array): PayloadCompressor {
  for (const [kind, magic] of MAGIC) {
    if (firstBytes.length >= magic.length && magic.every((b, i) => firstBytes[i] === b)) return kind;
  }
  throw new ParseError('payload.compressor-unknown', 'payload is not gzip, bzip2, xz, lzma, zstd or cpio', 0);
}

/**
 * Whether a header's PAYLOADCOMPRESSOR admits the detected format. An absent tag (null) is what
 * w0.ufdio writes; rpm then reads the payload with gzdio, which passes uncompressed data
 * through, so only gzip or plain cpio can be what rpm would install.
 */
function compressorAgrees(declared: PayloadCompressor | null, detected: PayloadCompressor): boolean {
  if (declared === null) return detected === 'gzip' || detected === 'none';
  return declared === detected;
}

export type DecompressBackend =
  'zstd-napi' | 'zstd-cli' | 'xz-cli' | 'lzma-native' | 'zlib' | 'gzip-cli' | 'bzip2-cli';

/** Preferred backends per compressor, fastest first (see the figures above). */
export const BACKEND_ORDER: Readonly<
  Record<Exclude<PayloadCompressor, 'none'>, readonly DecompressBackend[]>
> = {
  zstd: ['zstd-napi', 'zstd-cli'],
  xz: ['xz-cli', 'lzma-native'],
  lzma: ['xz-cli', 'lzma-native'],
  gzip: ['zlib', 'gzip-cli'],
  bzip2: ['bzip2-cli'],
};

const CLI_BINARY: Partial<Record<DecompressBackend, string>> = {
  'zstd-cli': 'zstd',
  'xz-cli': 'xz',
  'gzip-cli': 'gzip',
  'bzip2-cli': 'bzip2',
};

interface LzmaNative {
  createStream(coder: 'streamDecoder' | 'aloneDecoder', options: { memlimit: number }): Transform;
}
/** zstd-napi's low-level binding: its DecompressStream pushes a whole chunk's output at once. */
interface ZstdBinding {
  DCtx: new () => {
    decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
    setParameter(param: number, value: number): void;
  };
  DParameter: { windowLogMax: number };
  dStreamOutSize(): number;
}
/**
 * lzma-native pushes all the output of one input chunk without waiting for the reader; small
 * input slices bound what one slice can expand to.
 */
const LZMA_NATIVE_INPUT_SLICE = 4096;

const requireModule = createRequire(import.meta.url);
const availability = new Map<DecompressBackend, Promise<boolean>>();

async function onPath(binary: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    try {
      await access(path.join(dir, binary), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** The module each in-process backend loads (zstd-napi: only its binding, the .node file). */
const ADDON_MODULE: Partial<Record<DecompressBackend, string>> = {
  'zstd-napi': 'zstd-napi/binding',
  'lzma-native': 'lzma-native',
};
/** Why an addon did not load (first line of the error), for worker.missing-dependency. */
const loadFailures = new Map<string, string>();

function loadsModule(name: string): boolean {
  try {
    requireModule(name);
    return true;
  } catch (error) {
    loadFailures.set(name, (error instanceof Error ? error.message : String(error)).split('\n')[0]!);
    return false;
  }
}

/** Whether a backend can run here (binary on PATH, addon loads); cached per process. */
export function backendAvailable(backend: DecompressBackend): Promise<boolean> {
  let known = availability.get(backend);
  if (known === undefined) {
    const binary = CLI_BINARY[backend];
    known =
      binary !== undefined
        ? onPath(binary)
        : Promise.resolve(backend === 'zlib' || loadsModule(ADDON_MODULE[backend] ?? backend));
    availability.set(backend, known);
  }
  return known;
}

function cliArgs(backend: DecompressBackend, compressor: PayloadCompressor): string[] {
  switch (backend) {
    case 'zstd-cli':
      return ['-d', '-c', '-q', `--memory=${2 ** ZSTD_WINDOW_LOG_MAX / 1024 / 1024}MB`];
    case 'xz-cli':
      return [
        '-d',
        '-c',
        '-q',
        `--format=${compressor === 'lzma' ? 'lzma' : 'xz'}`,
        `--memlimit-decompress=${LZMA_MEMORY_LIMIT_BYTES}`,
      ];
    case 'gzip-cli':
      return ['-d', '-c', '-q'];
    case 'bzip2-cli':
      return ['-d', '-c', '-q'];
    default:
      throw new TmplError('payload.decompressor-unavailable', `${backend} is not a command`);
  }
}

function inProcessTransform(backend: DecompressBackend, compressor: PayloadCompressor): Transform {
  switch (backend) {
    case 'zlib':
      return createGunzip();
    case 'lzma-native': {
      const lzma = requireModule('lzma-native') as LzmaNative;
      return lzma.createStream(compressor === 'lzma' ? 'aloneDecoder' : 'streamDecoder', {
        memlimit: LZMA_MEMORY_LIMIT_BYTES,
      });
    }
    default:
      throw new TmplError('payload.decompressor-unavailable', `${backend} runs as a command`);
  }
}

/**
 * zstd in process, pulled one output buffer (ZSTD_DStreamOutSize, 128 KiB) at a time: memory
 * stays bounded even when a small input chunk expands to gigabytes (zstd-napi's own
 * DecompressStream would push all of it at once, and allocates past 4 GiB fail).
 */
async function* throughZstdBinding(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const binding = requireModule('zstd-napi/binding') as ZstdBinding;
  const dctx = new binding.DCtx();
  dctx.setParameter(binding.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX);
  const outSize = binding.dStreamOutSize();
  let inFrame = false;
  for await (const chunk of source) {
    let src = chunk;
    for (;;) {
      const dst = Buffer.allocUnsafe(outSize);
      const [ret, produced, consumed] = dctx.decompressStream(dst, src);
      src = src.subarray(consumed);
      if (produced > 0) yield dst.subarray(0, produced);
      if (src.length === 0 && (produced < dst.length || ret === 0)) {
        inFrame = ret !== 0;
        break;
      }
    }
  }
  if (inFrame) throw new Error('zstd stream ends inside a frame');
}

async function* sliced(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    for (let i = 0; i < chunk.length; i += size) yield chunk.subarray(i, i + size);
  }
}

/** Runs a decompressor command: the source streams into its stdin, its stdout streams out. */
async function* throughCommand(
  binary: string,
  args: string[],
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const child = execa(binary, args, {
    stdin: source,
    stdout: 'pipe',
    stderr: 'ignore',
    buffer: false,
    env: { LC_ALL: 'C' },
  });
  // Observed by the caller through the stdout iterable; never left unhandled.
  child.catch(() => undefined);
  try {
    for await (const chunk of child.iterable({ binary: true, preserveNewlines: true })) {
      yield chunk;
    }
    await child;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Runs an in-process Transform; buffers only what the Transform itself holds (one chunk or so). */
async function* throughTransform(
  transform: Transform,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const input = Readable.from(source, { objectMode: false });
  input.on('error', (err) => transform.destroy(err));
  input.pipe(transform);
  try {
    for await (const chunk of transform as AsyncIterable<Uint8Array>) yield chunk;
  } finally {
    input.unpipe(transform);
    input.destroy();
    transform.destroy();
  }
}

export interface DecompressOptions {
  /** Decompressed-size cap; at most MAX_DECOMPRESSED_PAYLOAD_BYTES. */
  readonly maxBytes?: number;
  /** Backends to try in order (default BACKEND_ORDER); the first available one runs. */
  readonly backends?: readonly DecompressBackend[];
}

/**
 * No backend for `detected` could run. When the usual ones were tried, the worker's template
 * lacks what tmpl-worker depends on (its native addon and the command that stands in for it):
 * `worker.missing-dependency`, naming each, instead of a stream that ends without a word.
 */
function unavailable(
  detected: Exclude<PayloadCompressor, 'none'>,
  candidates: readonly DecompressBackend[],
): TmplError {
  const tried = candidates.filter((b) => BACKEND_ORDER[detected].includes(b));
  if (tried.length === 0) {
    return new TmplError(
      'payload.decompressor-unavailable',
      `no ${detected} decompressor available (tried ${candidates.join(', ')})`,
    );
  }
  const missing = tried.map((b) => {
    const binary = CLI_BINARY[b];
    if (binary !== undefined) return `the command ${binary} (not on PATH)`;
    const name = ADDON_MODULE[b] ?? b;
    return `the module ${name} (${loadFailures.get(name) ?? 'not loadable'})`;
  });
  return new TmplError(
    'worker.missing-dependency',
    `cannot decompress ${detected}: missing ${missing.join(' and ')}; install tmpl-worker with its dependencies in the worker's template`,
  );
}

/** Pulls the first MAGIC_PROBE_LENGTH bytes (or all, if fewer) and hands back the whole stream. */
async function peek(
  source: AsyncIterable<Uint8Array>,
): Promise<{ head: Uint8Array; rest: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const taken: Uint8Array[] = [];
  let length = 0;
  let ended = false;
  while (length < MAGIC_PROBE_LENGTH) {
    const r = await iterator.next();
    if (r.done === true) {
      ended = true;
      break;
    }
    taken.push(r.value);
    length += r.value.length;
  }
  const head = new Uint8Array(length);
  let p = 0;
  for (const t of taken) {
    head.set(t, p);
    p += t.length;
  }
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (length > 0) yield head;
    if (ended) return;
    for (;;) {
      const r = await iterator.next();
      if (r.done === true) return;
      yield r.value;
    }
  }
  return { head, rest: rest() };
}

/**
 * Decompresses an RPM payload as it streams. `declared` is the header's PAYLOADCOMPRESSOR (null
 * when absent). Errors: ParseError 'payload.compressor-unknown' / 'payload.compressor-mismatch'
 * before any output, 'payload.too-large' once the output passes the cap, 'payload.corrupt' for
 * a corrupt or truncated stream. Errors thrown by the source itself pass through unchanged.
 */
export async function* decompress(
  declared: PayloadCompressor | null,
  source: AsyncIterable<Uint8Array>,
  opts: DecompressOptions = {},
): AsyncGenerator<Uint8Array> {
  const maxBytes = Math.min(opts.maxBytes ?? MAX_DECOMPRESSED_PAYLOAD_BYTES, MAX_DECOMPRESSED_PAYLOAD_BYTES);
  const { head, rest } = await peek(source);
  const detected = detectCompressor(head);
  if (!compressorAgrees(declared, detected)) {
    throw new ParseError(
      'payload.compressor-mismatch',
      `header says ${declared ?? 'no compressor'} but the payload is ${detected}`,
      0,
    );
  }

  // The source's own failure (a network error, a payload digest mismatch) is the real reason
  // when the decompressor then fails; remember it so it is not reported as corruption.
  let sourceError: Error | undefined;
  async function* watched(): AsyncGenerator<Uint8Array> {
    try {
      yield* rest;
    } catch (err) {
      sourceError = err instanceof Error ? err : new TmplError('payload.source', String(err));
      throw sourceError;
    }
  }

  let output: AsyncIterable<Uint8Array>;
  if (detected === 'none') {
    output = watched();
  } else {
    const candidates = opts.backends ?? BACKEND_ORDER[detected];
    let chosen: DecompressBackend | undefined;
    for (const b of candidates) {
      if (BACKEND_ORDER[detected].includes(b) && (await backendAvailable(b))) {
        chosen = b;
        break;
      }
    }
    if (chosen === undefined) throw unavailable(detected, candidates);
    const binary = CLI_BINARY[chosen];
    output =
      binary !== undefined
        ? throughCommand(binary, cliArgs(chosen, detected), watched())
        : chosen === 'zstd-napi'
          ? throughZstdBinding(watched())
          : chosen === 'lzma-native'
            ? throughTransform(
                inProcessTransform(chosen, detected),
                sliced(watched(), LZMA_NATIVE_INPUT_SLICE),
              )
            : throughTransform(inProcessTransform(chosen, detected), watched());
  }

  let total = 0;
  try {
    for await (const chunk of output) {
      total += chunk.length;
      if (total > maxBytes) {
        // Hand on the bytes up to the cap first: the consumer may find a more precise fault
        // in them (an unlisted file, a size lie) than "too large".
        const within = chunk.length - (total - maxBytes);
        if (within > 0) yield chunk.subarray(0, within);
        throw new ParseError('payload.too-large', `decompressed payload exceeds ${maxBytes} bytes`, maxBytes);
      }
      yield chunk;
    }
  } catch (err) {
    if (sourceError !== undefined) throw sourceError;
    if (err instanceof TmplError) throw err;
    throw new ParseError('payload.corrupt', `corrupt or truncated ${detected} payload`, total, {
      cause: err,
    });
  }
  if (sourceError !== undefined) throw sourceError;
}
