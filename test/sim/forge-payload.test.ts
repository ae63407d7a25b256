import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cpioArchive } from '../../sim/forge/cpio-writer.ts';
import { ForgeError, FORGE_COMPRESSORS, seededBytes } from '../../sim/forge/index.ts';
import { compressStream } from '../../sim/forge/payload-compressor.ts';

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of source) chunks.push(c);
  return Buffer.concat(chunks);
}

const DECOMPRESS: Record<string, string[] | null> = {
  zstd: ['zstd', '-dc'],
  xz: ['xz', '-dc'],
  gzip: ['gzip', '-dc'],
  bzip2: ['bzip2', '-dc'],
  none: null,
};

describe('payload compressors', () => {
  it.each(FORGE_COMPRESSORS)('%s output decompresses with the standard tool', async (compressor) => {
    const input = await collect(seededBytes(compressor, 300_000));
    const packed = await collect(compressStream(compressor, 3, seededBytes(compressor, 300_000)));
    const tool = DECOMPRESS[compressor];
    const restored = tool
      ? (await execa(tool[0]!, tool.slice(1), { input: packed, encoding: 'buffer' })).stdout
      : packed;
    expect(Buffer.from(restored).equals(input)).toBe(true);
  });

  it.each(FORGE_COMPRESSORS)('%s passes a source error through unchanged', async (compressor) => {
    const bad = cpioArchive([
      {
        name: './x',
        mode: 0o100644,
        size: 10,
        mtime: 0,
        ino: 1,
        fileIndex: 0,
        content: () => seededBytes('x', 4),
      },
    ]);
    const err = await collect(compressStream(compressor, 3, bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForgeError);
    expect((err as ForgeError).code).toBe('forge.cpio-size');
  });
});

describe('cpio writer', () => {
  it('writes newc entries cpio(1) lists, and stripped 07070X entries', async () => {
    const archive = await collect(
      cpioArchive([
        {
          name: './a/b.txt',
          mode: 0o100644,
          size: 5,
          mtime: 1000,
          ino: 1,
          fileIndex: 0,
          content: () => seededBytes('b', 5),
        },
        {
          name: './a/l',
          mode: 0o120777,
          size: 5,
          mtime: 1000,
          ino: 2,
          fileIndex: 1,
          content: async function* () {
            await Promise.resolve();
            yield new TextEncoder().encode('b.txt');
          },
        },
      ]),
    );
    expect(archive.length % 4).toBe(0);
    const { stdout } = await execa('cpio', ['-tv', '--quiet'], { input: archive });
    expect(stdout).toMatch(/-rw-r--r-- .* 5 .*\.\/a\/b\.txt/);
    expect(stdout).toMatch(/lrwxrwxrwx .*\.\/a\/l -> b\.txt/);

    const stripped = await collect(
      cpioArchive([
        {
          name: '',
          mode: 0o100644,
          size: 3,
          mtime: 0,
          ino: 1,
          fileIndex: 7,
          stripped: true,
          content: () => seededBytes('s', 3),
        },
      ]),
    );
    expect(stripped.subarray(0, 14).toString()).toBe('07070X00000007');
    expect([...stripped.subarray(14, 16)]).toEqual([0, 0]);
    expect(stripped.subarray(16, 19).equals(await collect(seededBytes('s', 3)))).toBe(true);
    expect(stripped.subarray(20, 26).toString()).toBe('070701');
    expect(stripped.toString('latin1')).toContain('TRAILER!!!');
  });
});
