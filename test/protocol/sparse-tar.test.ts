import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denseImageStream, DENSE_CHUNK_SIZE } from '../../protocol/sparse-image.ts';
import { readSparseTar, type SparseMemberEvent, type SparseTarFormat } from '../../protocol/sparse-tar.ts';
import { writeSparseFile } from '../../sim/forge/sparse-file.ts';
import {
  collect,
  evenRegions,
  GiB,
  KiB,
  makeSparseImage,
  MiB,
  readFiles,
  sha256File,
  sha256Regions,
  sizes,
  type ImageLayout,
} from '../helpers/sparse-images.ts';

const LAYOUTS: readonly ImageLayout[] = [
  { name: 'no data', size: 1 * MiB, regions: [] },
  { name: 'one extent', size: 1 * MiB, regions: [{ offset: 64 * KiB, length: 8 * KiB }] },
  { name: 'four extents, data at offset 0', size: 2 * MiB, regions: evenRegions(4, 0, 256 * KiB, 12 * KiB) },
  {
    name: 'six extents (one extension block)',
    size: 2 * MiB,
    regions: evenRegions(6, 8 * KiB, 128 * KiB, 4 * KiB),
  },
  {
    name: '24 extents (header and one extension block exactly full)',
    size: 2 * MiB,
    regions: evenRegions(24, 4 * KiB, 64 * KiB, 4 * KiB),
  },
  {
    name: '30 extents (two extension blocks)',
    size: 4 * MiB,
    regions: evenRegions(30, 4 * KiB, 64 * KiB, 8 * KiB),
  },
  {
    name: 'data at the very end, unaligned size',
    size: 1 * MiB + 1000,
    regions: [
      { offset: 0, length: 4 * KiB },
      { offset: 1 * MiB - 4 * KiB, length: 4 * KiB + 1000 },
    ],
  },
  { name: 'hole at the end', size: 3 * MiB, regions: [{ offset: 128 * KiB, length: 64 * KiB }] },
];

/** Sparse, so 9 GiB costs a few blocks: realsize and offsets need base-256 (old GNU) or pax. */
const HUGE: ImageLayout = {
  name: 'real size over 8 GiB',
  size: 9 * GiB + 64 * KiB,
  regions: [
    { offset: 0, length: 4 * KiB },
    { offset: 8 * GiB + 4 * KiB, length: 8 * KiB },
  ],
};

const FORMATS: readonly { format: SparseTarFormat; args: readonly string[] }[] = [
  { format: 'gnu-sparse', args: [] },
  { format: 'pax-1.0', args: ['--format=posix'] },
  { format: 'pax-0.0', args: ['--format=posix', '--sparse-version=0.0'] },
  { format: 'pax-0.1', args: ['--format=posix', '--sparse-version=0.1'] },
];

let work: string;
let caseNumber = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-sparse-tar-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Case {
  readonly dir: string;
  readonly image: string;
  readonly archive: string;
}

/** A fresh directory with root.img made from `layout` and archived by GNU tar with `tarArgs`. */
async function tarCase(layout: ImageLayout, tarArgs: readonly string[]): Promise<Case> {
  const dir = path.join(work, `case-${caseNumber++}`);
  await mkdir(path.join(dir, 'src'), { recursive: true });
  const image = path.join(dir, 'src', 'root.img');
  await makeSparseImage(image, layout);
  const archive = path.join(dir, 'root.tar');
  await execa('tar', [...tarArgs, '-C', path.join(dir, 'src'), '-cf', archive, 'root.img']);
  return { dir, image, archive };
}

/** Extracts with GNU tar (-xS) into DIR/gnu and returns the path of the single file. */
async function gnuExtract(archive: string, dir: string, memberName = 'root.img'): Promise<string> {
  const out = path.join(dir, 'gnu');
  await mkdir(out, { recursive: true });
  await execa('tar', ['-xSf', archive, '-C', out]);
  return path.join(out, memberName);
}

async function ourExtract(
  chunks: AsyncIterable<Uint8Array>,
  dir: string,
): Promise<{ file: string; member: SparseMemberEvent }> {
  const file = path.join(dir, 'ours.img');
  const member = await writeSparseFile(readSparseTar(chunks), file);
  return { file, member };
}

async function expectSameImage(ours: string, theirs: string, source: string): Promise<void> {
  const [a, b, c] = await Promise.all([sha256File(ours), sha256File(theirs), sha256File(source)]);
  expect(a).toBe(b);
  expect(a).toBe(c);
  expect((await sizes(ours)).size).toBe((await sizes(theirs)).size);
}

describe('readSparseTar against archives written by GNU tar', () => {
  for (const { format, args } of FORMATS) {
    for (const layout of LAYOUTS) {
      it(`${format}: ${layout.name}`, async () => {
        const c = await tarCase(layout, ['--sparse', ...args]);
        const { file, member } = await ourExtract(readFiles([c.archive]), c.dir);
        expect(member).toMatchObject({ type: 'member', name: 'root.img', format, realSize: layout.size });
        expect(member.extents).toEqual(layout.regions);
        await expectSameImage(file, await gnuExtract(c.archive, c.dir), c.image);
        // Holes stay holes: nothing beyond the data (rounded to blocks) is allocated.
        expect((await sizes(file)).allocated).toBeLessThanOrEqual(
          layout.regions.reduce((n, r) => n + Math.ceil(r.length / (4 * KiB)) * 4 * KiB, 0),
        );
      });
    }
    it(`${format}: ${HUGE.name}`, async () => {
      const c = await tarCase(HUGE, ['--sparse', ...args]);
      const { file, member } = await ourExtract(readFiles([c.archive]), c.dir);
      expect(member).toMatchObject({ format, realSize: HUGE.size });
      expect(member.extents).toEqual(HUGE.regions);
      const theirs = await gnuExtract(c.archive, c.dir);
      // Reading 9 GiB of holes would take too long: compare the data regions, the apparent
      // sizes, and that neither file allocated anything outside them (so the rest reads as zeros).
      const digest = await sha256Regions(c.image, HUGE.regions);
      expect(await sha256Regions(file, HUGE.regions)).toBe(digest);
      expect(await sha256Regions(theirs, HUGE.regions)).toBe(digest);
      for (const f of [file, theirs]) {
        const s = await sizes(f);
        expect(s.size).toBe(HUGE.size);
        expect(s.allocated).toBeLessThanOrEqual(64 * KiB);
      }
    });
  }

  it('old GNU archives of images over 8 GiB use base-256 fields', async () => {
    const c = await tarCase(HUGE, ['--sparse']);
    const header = (await readFile(c.archive)).subarray(0, 512);
    expect(header[483]).toBe(0x80); // realsize
  });

  it('reads a plain member (tar without --sparse)', async () => {
    const layout: ImageLayout = {
      name: 'dense',
      size: 300 * KiB + 7,
      regions: [{ offset: 0, length: 300 * KiB + 7 }],
    };
    const c = await tarCase(layout, []);
    const { file, member } = await ourExtract(readFiles([c.archive]), c.dir);
    expect(member).toMatchObject({
      format: 'plain',
      realSize: layout.size,
      extents: [{ offset: 0, length: layout.size }],
    });
    await expectSameImage(file, await gnuExtract(c.archive, c.dir), c.image);
  });

  it('reads a plain member of a sparse file (holes stored as zeros) in posix format', async () => {
    const layout = LAYOUTS[3]!;
    const c = await tarCase(layout, ['--format=posix']);
    const { file, member } = await ourExtract(readFiles([c.archive]), c.dir);
    expect(member).toMatchObject({ format: 'plain', realSize: layout.size });
    await expectSameImage(file, await gnuExtract(c.archive, c.dir), c.image);
  });

  for (const { format, args } of FORMATS.slice(0, 2)) {
    it(`${format}: the Qubes builder's long absolute build path as member name`, async () => {
      const layout = LAYOUTS[5]!;
      const dir = path.join(work, `case-${caseNumber++}`);
      const deep = path.join(
        dir,
        'builder',
        'artifacts',
        'templates',
        'qubes-template-fedora-41-xfce',
        'prepared-images',
        'fedora-41-xfce',
      );
      await mkdir(deep, { recursive: true });
      const image = path.join(deep, 'root.img');
      await makeSparseImage(image, layout);
      const archive = path.join(dir, 'root.tar');
      expect(image.length).toBeGreaterThan(100);
      await execa('tar', ['--sparse', ...args, '-cf', archive, image]);
      const { file, member } = await ourExtract(readFiles([archive]), dir);
      const stored = image.replace(/^\/+/, ''); // tar strips the leading '/'
      expect(member).toMatchObject({ name: stored, format });
      expect(member.extents).toEqual(layout.regions);
      await expectSameImage(file, await gnuExtract(archive, dir, stored), image);
    });
  }

  it('reads split parts (split -b, odd sizes) concatenated, and tiny input chunks', async () => {
    const layout = LAYOUTS[5]!;
    const c = await tarCase(layout, ['--sparse']);
    const expected = await sha256File(c.image);
    for (const partSize of [3001, 40000]) {
      const partsDir = path.join(c.dir, `parts-${partSize}`);
      await mkdir(partsDir);
      await execa('split', ['-d', '-b', String(partSize), c.archive, path.join(partsDir, 'root.img.part.')]);
      const parts = (await readdir(partsDir)).sort().map((p) => path.join(partsDir, p));
      expect(parts.length).toBeGreaterThan(1);
      const { file } = await ourExtract(readFiles(parts), c.dir);
      expect(await sha256File(file)).toBe(expected);
    }
    const small = await tarCase(LAYOUTS[3]!, ['--sparse', '--format=posix']);
    const { file } = await ourExtract(readFiles([small.archive], 7), small.dir);
    expect(await sha256File(file)).toBe(await sha256File(small.image));
  });

  it('denseImageStream yields every byte of the image in bounded chunks', async () => {
    const c = await tarCase(LAYOUTS[2]!, ['--sparse']);
    let largest = 0;
    const chunks = (async function* () {
      for await (const chunk of denseImageStream(readSparseTar(readFiles([c.archive])))) {
        largest = Math.max(largest, chunk.length);
        yield chunk;
      }
    })();
    const dense = await collect(chunks);
    expect(Buffer.compare(dense, await readFile(c.image))).toBe(0);
    expect(largest).toBeLessThanOrEqual(DENSE_CHUNK_SIZE);
  });

  it('data events are in increasing order and never cross an extent', async () => {
    const c = await tarCase(LAYOUTS[5]!, ['--sparse', '--format=posix']);
    let member: SparseMemberEvent | undefined;
    let last = -1;
    for await (const event of readSparseTar(readFiles([c.archive], 1000))) {
      if (event.type === 'member') {
        member = event;
        continue;
      }
      expect(event.offset).toBeGreaterThan(last);
      last = event.offset;
      const extent = member!.extents.find(
        (e) => e.offset <= event.offset && event.offset < e.offset + e.length,
      );
      expect(extent).toBeDefined();
      expect(event.offset + event.bytes.length).toBeLessThanOrEqual(extent!.offset + extent!.length);
    }
  });
});
