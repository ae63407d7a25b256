import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKEND_ORDER,
  backendAvailable,
  decompress,
  detectCompressor,
  type DecompressBackend,
} from '../../dispvm-worker/decompress.ts';
import type { PayloadCompressor } from '../../protocol/rpm-types.ts';
import { chunked, collect } from '../helpers/cpio-builder.ts';
import { expectCode } from '../helpers/expect-error.ts';
import { semiCompressible } from '../helpers/payload-data.ts';

/** The real tools, as rpm's compressors write the same formats. */
const TOOL: Record<Exclude<PayloadCompressor, 'none'>, string[]> = {
  gzip: ['gzip', '-9', '-c'],
  bzip2: ['bzip2', '-9', '-c'],
  xz: ['xz', '-2', '-c'],
  lzma: ['xz', '--format=lzma', '-6', '-c'],
  zstd: ['zstd', '-19', '-q', '-c'],
};

// Starts like a cpio archive, so the uncompressed form is a payload too.
const plain = semiCompressible(1024 * 1024, 7);
plain.set(new TextEncoder().encode('070701'), 0);
const compressed = new Map<PayloadCompressor, Uint8Array>();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-decompress-'));
  const input = path.join(dir, 'plain');
  await writeFile(input, plain);
  for (const [kind, [cmd, ...args]] of Object.entries(TOOL)) {
    const out = path.join(dir, kind);
    await execa('sh', ['-c', `"$0" "$@" < "${input}" > "${out}"`, cmd!, ...args]);
    compressed.set(kind as PayloadCompressor, new Uint8Array(await readFile(out)));
  }
  compressed.set('none', plain);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('detectCompressor', () => {
  it.each(['gzip', 'bzip2', 'xz', 'lzma', 'zstd'] as const)(
    'recognises %s output of the real tool',
    (kind) => {
      expect(detectCompressor(compressed.get(kind)!.subarray(0, 6))).toBe(kind);
    },
  );
  it('recognises an uncompressed cpio archive', () => {
    expect(detectCompressor(new TextEncoder().encode('070701'))).toBe('none');
    expect(detectCompressor(new TextEncoder().encode('07070X'))).toBe('none');
  });
  it.each([[[]], [[0x50, 0x4b, 3, 4]], [[0x1f]], [[0xfd, 0x37, 0x7a, 0x58, 0x5a]]])(
    'refuses %j',
    async (bytes) => {
      await expectCode(() => detectCompressor(new Uint8Array(bytes)), 'payload.compressor-unknown');
    },
  );
});

const cases: [PayloadCompressor, DecompressBackend][] = Object.entries(BACKEND_ORDER).flatMap(
  ([kind, backends]) =>
    backends.map((b): [PayloadCompressor, DecompressBackend] => [kind as PayloadCompressor, b]),
);

describe('decompress', () => {
  it.each(cases)('%s through %s gives back the original bytes', async (kind, backend) => {
    expect(await backendAvailable(backend)).toBe(true);
    const out = await collect(
      decompress(kind, chunked(compressed.get(kind)!, 65_536), { backends: [backend] }),
    );
    expect(out.length).toBe(plain.length);
    expect(sha(out)).toBe(sha(plain));
  });

  it('passes an uncompressed payload through', async () => {
    const out = await collect(decompress('none', chunked(plain, 10_000)));
    expect(sha(out)).toBe(sha(plain));
  });

  it('without PAYLOADCOMPRESSOR accepts gzip or no compression, as rpm gzdio reads both', async () => {
    expect(sha(await collect(decompress(null, chunked(compressed.get('gzip')!, 4096))))).toBe(sha(plain));
    expect(sha(await collect(decompress(null, chunked(plain, 4096))))).toBe(sha(plain));
    await expectCode(
      () => collect(decompress(null, chunked(compressed.get('xz')!, 4096))),
      'payload.compressor-mismatch',
    );
  });

  it.each([
    ['xz', 'zstd'],
    ['zstd', 'gzip'],
    ['gzip', 'none'],
    ['lzma', 'xz'],
    ['bzip2', 'gzip'],
    ['none', 'zstd'],
  ] as const)('refuses a %s payload declared as %s', async (actual, declared) => {
    await expectCode(
      () => collect(decompress(declared, chunked(compressed.get(actual)!, 4096))),
      'payload.compressor-mismatch',
    );
  });

  it('reads the magic across tiny chunks', async () => {
    async function* tinyFirst(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 8; i++) yield await Promise.resolve(bytes.subarray(i, i + 1));
      yield bytes.subarray(8);
    }
    const out = await collect(decompress('xz', tinyFirst(compressed.get('xz')!), { backends: ['xz-cli'] }));
    expect(sha(out)).toBe(sha(plain));
  });

  it('reports when no backend can run', async () => {
    await expectCode(
      () => collect(decompress('zstd', chunked(compressed.get('zstd')!, 4096), { backends: ['bzip2-cli'] })),
      'payload.decompressor-unavailable',
      (await import('../../protocol/errors.ts')).TmplError,
    );
  });
});
