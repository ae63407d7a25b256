import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, lstat, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCpio, type CpioEntry } from '../../dispvm-worker/cpio.ts';
import { expectCode } from '../helpers/expect-error.ts';
import { chunked, collect, concat, strippedEntry, trailer } from '../helpers/cpio-builder.ts';

interface Got {
  readonly entry: Omit<CpioEntry, 'content'>;
  readonly data: Uint8Array;
}

async function readAll(source: AsyncIterable<Uint8Array>, allowBlockPadding = true): Promise<Got[]> {
  const out: Got[] = [];
  for await (const { content, ...entry } of parseCpio(source, { allowBlockPadding })) {
    out.push({ entry, data: await collect(content) });
  }
  return out;
}

describe('parseCpio on GNU cpio newc archives', () => {
  let dir: string;
  let archive: Uint8Array;
  const big = randomBytes(300_000);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tmpl-cpio-'));
    const root = path.join(dir, 'root');
    await mkdir(path.join(root, 'var/lib/qubes'), { recursive: true });
    await writeFile(path.join(root, 'var/lib/qubes/template.conf'), 'virt_mode=pvh\n');
    await writeFile(path.join(root, 'var/lib/qubes/empty'), '');
    await writeFile(path.join(root, 'var/lib/qubes/root.img.part.00'), big, { mode: 0o600 });
    await writeFile(path.join(root, 'var/lib/qubes/three'), 'abc');
    await symlink('template.conf', path.join(root, 'var/lib/qubes/link'));
    const { stdout } = await execa(
      'sh',
      ['-c', 'find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc'],
      {
        cwd: root,
        encoding: 'buffer',
      },
    );
    archive = stdout;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([1, 3, 4096, 1 << 20])('reads every entry, chunked by %i bytes', async (size) => {
    const got = await readAll(chunked(archive, size));
    const root = path.join(dir, 'root');
    const { stdout: listing } = await execa('sh', ['-c', 'find . -mindepth 1 | LC_ALL=C sort'], {
      cwd: root,
    });
    // GNU cpio drops the leading "./" that rpm writes.
    expect(got.map((g) => g.entry.name)).toEqual(listing.split('\n').map((n) => n.slice(2)));
    for (const g of got) {
      const onDisk = path.join(root, g.entry.name);
      const st = await lstat(onDisk);
      expect(g.entry.mode).toBe(st.mode);
      expect(g.entry.path).toBe('/' + g.entry.name);
      expect(g.entry.fileIndex).toBeNull();
      if (st.isFile()) expect(Buffer.from(g.data).equals(await readFile(onDisk))).toBe(true);
      else if (st.isSymbolicLink()) expect(Buffer.from(g.data).toString()).toBe(await readlink(onDisk));
      else expect(g.data.length).toBe(0);
      expect(g.entry.size).toBe(g.data.length);
    }
  });

  it('skips content the consumer does not read', async () => {
    const names: string[] = [];
    for await (const entry of parseCpio(chunked(archive, 1000), { allowBlockPadding: true }))
      names.push(entry.name);
    expect(names).toContain('var/lib/qubes/three');
    expect(names).toHaveLength(8);
  });

  it('skips content the consumer abandons midway', async () => {
    const sizes: number[] = [];
    for await (const entry of parseCpio(chunked(archive, 1000), { allowBlockPadding: true })) {
      for await (const chunk of entry.content) {
        sizes.push(chunk.length);
        break;
      }
    }
    expect(sizes.length).toBeGreaterThan(2);
  });

  it("refuses GNU cpio's block padding unless allowed", async () => {
    expect(archive.length % 512).toBe(0);
    await expectCode(() => readAll(chunked(archive, 4096), false), 'cpio.trailing-data');
  });
});

describe('parseCpio on the stripped (07070X) layout', () => {
  const files = [
    { path: '/var/lib/qubes', size: 4096, mode: 0o40755 },
    { path: '/var/lib/qubes/a', size: 5, mode: 0o100644 },
    { path: '/var/lib/qubes/b', size: 0, mode: 0o100644 },
    { path: '/var/lib/qubes/l', size: 1, mode: 0o120777 },
  ];
  const archive = concat([
    strippedEntry(0),
    strippedEntry(1, new TextEncoder().encode('hello')),
    strippedEntry(2),
    strippedEntry(3, new TextEncoder().encode('a')),
    trailer(),
  ]);

  it('takes names, modes and sizes from the file list', async () => {
    const got: Got[] = [];
    for await (const { content, ...entry } of parseCpio(chunked(archive, 5), { files })) {
      got.push({ entry, data: await collect(content) });
    }
    expect(
      got.map((g) => [g.entry.name, g.entry.path, g.entry.fileIndex, g.entry.mode, g.entry.size]),
    ).toEqual([
      ['./var/lib/qubes', '/var/lib/qubes', 0, 0o40755, 0],
      ['./var/lib/qubes/a', '/var/lib/qubes/a', 1, 0o100644, 5],
      ['./var/lib/qubes/b', '/var/lib/qubes/b', 2, 0o100644, 0],
      ['./var/lib/qubes/l', '/var/lib/qubes/l', 3, 0o120777, 1],
    ]);
    expect(new TextDecoder().decode(got[1]!.data)).toBe('hello');
    expect(new TextDecoder().decode(got[3]!.data)).toBe('a');
  });

  it('needs the file list', async () => {
    await expectCode(() => readAll(chunked(archive)), 'cpio.magic');
  });
});
