import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_ORDER, decompress, type DecompressBackend } from '../../dispvm-worker/decompress.ts';
import { ParseError, TmplError } from '../../protocol/errors.ts';
import type { PayloadCompressor } from '../../protocol/rpm-types.ts';
import { chunked, collect } from '../helpers/cpio-builder.ts';
import { expectCode } from '../helpers/expect-error.ts';
import { semiCompressible } from '../helpers/payload-data.ts';

type Compressor = Exclude<PayloadCompressor, 'none'>;
const TOOL: Record<Compressor, string[]> = {
  gzip: ['gzip', '-6', '-c'],
  bzip2: ['bzip2', '-9', '-c'],
  xz: ['xz', '-2', '-c'],
  lzma: ['xz', '--format=lzma', '-6', '-c'],
  zstd: ['zstd', '-3', '-q', '-c'],
};
const BOMB_SIZE = 64 * 1024 * 1024;

const normal = new Map<Compressor, Uint8Array>();
const bombs = new Map<Compressor, Uint8Array>();
let dir: string;

async function compress(cmd: string[], input: string, out: string): Promise<Uint8Array> {
  await execa('sh', ['-c', `"$0" "$@" < "${input}" > "${out}"`, ...cmd]);
  return new Uint8Array(await readFile(out)); // a copy: Buffer.slice() would not copy
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-decompress-bad-'));
  const input = path.join(dir, 'plain');
  await writeFile(input, semiCompressible(512 * 1024, 3));
  // A bomb: 64 MiB of zeros, a few hundred KiB at most once compressed.
  const zeros = path.join(dir, 'zeros');
  await execa('truncate', ['-s', String(BOMB_SIZE), zeros]);
  for (const [kind, cmd] of Object.entries(TOOL) as [Compressor, string[]][]) {
    normal.set(kind, await compress(cmd, input, path.join(dir, kind)));
    bombs.set(kind, await compress(cmd, zeros, path.join(dir, `${kind}.bomb`)));
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cases: [Compressor, DecompressBackend][] = Object.entries(BACKEND_ORDER).flatMap(([kind, backends]) =>
  backends.map((b): [Compressor, DecompressBackend] => [kind as Compressor, b]),
);

describe.each(cases)('%s through %s', (kind, backend) => {
  const run = (bytes: Uint8Array, maxBytes?: number): Promise<Uint8Array> =>
    collect(
      decompress(kind, chunked(bytes, 32_768), {
        backends: [backend],
        ...(maxBytes !== undefined ? { maxBytes } : {}),
      }),
    );

  it('a truncated stream is corrupt', async () => {
    const bytes = normal.get(kind)!;
    await expectCode(() => run(bytes.subarray(0, Math.floor(bytes.length / 2))), 'payload.corrupt');
  });

  it('a stream cut right after its magic is corrupt', async () => {
    await expectCode(() => run(normal.get(kind)!.subarray(0, 8)), 'payload.corrupt');
  });

  it('a damaged stream is corrupt', async () => {
    const bytes = normal.get(kind)!.slice();
    for (let i = 64; i < bytes.length - 64; i += Math.floor(bytes.length / 7)) bytes[i] = bytes[i]! ^ 0x55;
    await expectCode(() => run(bytes), 'payload.corrupt');
  });

  it('a decompression bomb stops at the cap', async () => {
    const bomb = bombs.get(kind)!;
    expect(bomb.length).toBeLessThan(BOMB_SIZE / 100);
    let seen = 0;
    await expectCode(async () => {
      for await (const chunk of decompress(kind, chunked(bomb, 65_536), {
        backends: [backend],
        maxBytes: 1024 * 1024,
      })) {
        seen += chunk.length;
      }
    }, 'payload.too-large');
    expect(seen).toBeLessThanOrEqual(1024 * 1024);
  });

  it("the source's own error passes through unchanged", async () => {
    const bytes = normal.get(kind)!;
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(bytes.subarray(0, 4096));
      throw new TmplError('http.connection', 'connection reset');
    }
    await expectCode(
      () => collect(decompress(kind, failing(), { backends: [backend] })),
      'http.connection',
      TmplError,
    );
  });
});

async function* oneChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield await Promise.resolve(bytes);
}

describe('decoder memory limits', () => {
  it.each(cases.filter(([, backend]) => backend === 'zstd-napi' || backend === 'zlib'))(
    'a bomb in a single input chunk is decoded a buffer at a time (%s through %s)',
    async (kind, backend) => {
      const bomb = bombs.get(kind)!;
      const before = process.memoryUsage().arrayBuffers;
      let grown = 0;
      for await (const chunk of decompress(kind, oneChunk(bomb), { backends: [backend] })) {
        expect(chunk.length).toBeGreaterThan(0);
        // A decoder that ignores backpressure has pushed the whole bomb by now.
        await new Promise((resolve) => setTimeout(resolve, 100));
        grown = process.memoryUsage().arrayBuffers - before;
        break;
      }
      expect(grown).toBeLessThan(BOMB_SIZE / 4);
    },
  );

  it('an lzma stream that asks for a 4 GiB dictionary is refused by the memory limit', async () => {
    const bytes = normal.get('lzma')!.slice();
    bytes.set([0x00, 0x00, 0xff, 0xff], 1); // dictionary size, little endian: 0xffff0000
    for (const backend of BACKEND_ORDER.lzma) {
      await expectCode(
        () => collect(decompress('lzma', chunked(bytes, 4096), { backends: [backend] })),
        'payload.corrupt',
      );
    }
  });

  it('garbage after an xz stream is refused', async () => {
    const bytes = Buffer.concat([normal.get('xz')!, Buffer.from('garbage!')]);
    for (const backend of BACKEND_ORDER.xz) {
      await expectCode(
        () => collect(decompress('xz', chunked(bytes, 4096), { backends: [backend] })),
        'payload.corrupt',
      );
    }
  });

  it('errors are ParseErrors with offsets', async () => {
    try {
      await collect(decompress('zstd', chunked(normal.get('zstd')!.subarray(0, 100), 10)));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as ParseError).offset).toBeGreaterThanOrEqual(0);
    }
  });
});
