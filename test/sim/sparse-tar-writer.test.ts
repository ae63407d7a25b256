import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSparseTar } from '../../protocol/sparse-tar.ts';
import { writeSparseFile } from '../../sim/forge/sparse-file.ts';
import { splitStream, splitSuffix, writeSplitParts } from '../../sim/forge/split-parts.ts';
import {
  findDataExtents,
  writeSparseTar,
  type SparseTarWriterOptions,
} from '../../sim/forge/sparse-tar-writer.ts';
import {
  collect,
  evenRegions,
  fromBytes,
  GiB,
  KiB,
  makeSparseImage,
  MiB,
  sha256File,
  sha256Regions,
  sizes,
  type ImageLayout,
} from '../helpers/sparse-images.ts';

const LAYOUTS: readonly ImageLayout[] = [
  { name: 'no data', size: 1 * MiB, regions: [] },
  { name: 'one extent', size: 1 * MiB, regions: [{ offset: 64 * KiB, length: 8 * KiB }] },
  { name: 'four extents, data at offset 0', size: 2 * MiB, regions: evenRegions(4, 0, 256 * KiB, 12 * KiB) },
  { name: 'six extents', size: 2 * MiB, regions: evenRegions(6, 8 * KiB, 128 * KiB, 4 * KiB) },
  { name: '24 extents', size: 2 * MiB, regions: evenRegions(24, 4 * KiB, 64 * KiB, 4 * KiB) },
  { name: '30 extents', size: 4 * MiB, regions: evenRegions(30, 4 * KiB, 64 * KiB, 8 * KiB) },
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

/** 2026-01-01T00:00:00Z: images get a fixed mtime so GNU tar's headers are reproducible. */
const MTIME = 1_767_225_600;
/** GNU tar options that pin what our writer defaults to (root-owned, like the Qubes builder's). */
const OWNER = ['--owner=root:0', '--group=root:0'];

let work: string;
let caseNumber = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-sparse-writer-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function imageCase(
  layout: ImageLayout,
  relativeName = 'root.img',
): Promise<{ dir: string; image: string }> {
  const dir = path.join(work, `case-${caseNumber++}`);
  const image = path.join(dir, 'src', relativeName);
  await mkdir(path.dirname(image), { recursive: true });
  await makeSparseImage(image, layout);
  await utimes(image, MTIME, MTIME);
  return { dir, image };
}

async function ourArchive(image: string, opts: SparseTarWriterOptions): Promise<Uint8Array> {
  return collect(writeSparseTar(image, opts));
}

/** tar -xSf of `archive` bytes; returns the extracted file. */
async function gnuExtract(archive: Uint8Array, dir: string, memberName: string): Promise<string> {
  const out = path.join(dir, `gnu-${caseNumber++}`);
  await mkdir(out, { recursive: true });
  const archivePath = path.join(out, '..', `${path.basename(out)}.tar`);
  await writeFile(archivePath, archive);
  await execa('tar', ['-xSf', archivePath, '-C', out]);
  return path.join(out, memberName);
}

describe('writeSparseTar', () => {
  for (const layout of LAYOUTS) {
    it(`gnu-sparse is byte-identical to GNU tar --hole-detection=raw: ${layout.name}`, async () => {
      const { dir, image } = await imageCase(layout);
      expect(await findDataExtents(image)).toEqual(layout.regions);
      const ours = await ourArchive(image, { memberName: 'root.img', format: 'gnu-sparse' });
      const { stdout } = await execa(
        'tar',
        ['--sparse', '--hole-detection=raw', ...OWNER, '-C', path.dirname(image), '-cf', '-', 'root.img'],
        { encoding: 'buffer' },
      );
      expect(Buffer.compare(Buffer.from(ours), Buffer.from(stdout))).toBe(0);
      const extracted = await gnuExtract(ours, dir, 'root.img');
      expect(await sha256File(extracted)).toBe(await sha256File(image));
      expect((await sizes(extracted)).size).toBe(layout.size);
    });

    it(`pax-1.0 extracts with tar -xSf and reads back: ${layout.name}`, async () => {
      const { dir, image } = await imageCase(layout);
      const ours = await ourArchive(image, { memberName: 'root.img', format: 'pax-1.0' });
      const extracted = await gnuExtract(ours, dir, 'root.img');
      expect(await sha256File(extracted)).toBe(await sha256File(image));
      const out = path.join(dir, 'ours.img');
      const member = await writeSparseFile(readSparseTar(fromBytes(ours, 4096)), out);
      expect(member).toMatchObject({
        format: 'pax-1.0',
        name: 'root.img',
        realSize: layout.size,
        extents: layout.regions,
      });
      expect(await sha256File(out)).toBe(await sha256File(image));
    });
  }

  it('plain is byte-identical to GNU tar without --sparse', async () => {
    const layout = LAYOUTS[3]!;
    const { dir, image } = await imageCase(layout);
    const ours = await ourArchive(image, { memberName: 'root.img', format: 'plain' });
    const { stdout } = await execa('tar', [...OWNER, '-C', path.dirname(image), '-cf', '-', 'root.img'], {
      encoding: 'buffer',
    });
    expect(Buffer.compare(Buffer.from(ours), Buffer.from(stdout))).toBe(0);
    expect(await sha256File(await gnuExtract(ours, dir, 'root.img'))).toBe(await sha256File(image));
  });

  it("long member names use ././@LongLink exactly like GNU tar (the builder's build path)", async () => {
    const name =
      'home/user/qubes-builderv2/artifacts/templates/qubes-template-fedora-41-xfce/prepared-images/fedora-41-xfce/root.img';
    expect(name.length).toBeGreaterThan(100);
    const layout = LAYOUTS[5]!;
    const { dir, image } = await imageCase(layout, name);
    const ours = await ourArchive(image, { memberName: name, format: 'gnu-sparse' });
    const { stdout } = await execa(
      'tar',
      ['--sparse', '--hole-detection=raw', ...OWNER, '-C', path.join(dir, 'src'), '-cf', '-', name],
      {
        encoding: 'buffer',
      },
    );
    expect(Buffer.compare(Buffer.from(ours), Buffer.from(stdout))).toBe(0);
    for (const format of ['pax-1.0', 'plain'] as const) {
      const archive = await ourArchive(image, { memberName: name, format });
      expect(await sha256File(await gnuExtract(archive, dir, name))).toBe(await sha256File(image));
      const events = readSparseTar(fromBytes(archive));
      const first = await events.next();
      await events.return();
      expect(first.value).toMatchObject({ type: 'member', name, format });
    }
  });

  it('images over 8 GiB with caller-given extents match GNU tar (seek-based) byte for byte', async () => {
    const layout: ImageLayout = {
      name: 'huge',
      size: 9 * GiB + 64 * KiB,
      regions: [
        { offset: 0, length: 4 * KiB },
        { offset: 8 * GiB + 4 * KiB, length: 8 * KiB },
      ],
    };
    const { dir, image } = await imageCase(layout);
    const ours = await ourArchive(image, {
      memberName: 'root.img',
      format: 'gnu-sparse',
      extents: layout.regions,
    });
    const { stdout } = await execa(
      'tar',
      ['--sparse', ...OWNER, '-C', path.dirname(image), '-cf', '-', 'root.img'],
      { encoding: 'buffer' },
    );
    expect(Buffer.compare(Buffer.from(ours), Buffer.from(stdout))).toBe(0);
    const pax = await ourArchive(image, {
      memberName: 'root.img',
      format: 'pax-1.0',
      extents: layout.regions,
    });
    const extracted = await gnuExtract(pax, dir, 'root.img');
    expect(await sizes(extracted)).toMatchObject({ size: layout.size });
    expect((await sizes(extracted)).allocated).toBeLessThanOrEqual(64 * KiB);
    expect(await sha256Regions(extracted, layout.regions)).toBe(await sha256Regions(image, layout.regions));
  });

  it('refuses caller extents that overlap or run past the image', async () => {
    const { image } = await imageCase(LAYOUTS[1]!);
    const bad = [
      [
        { offset: 0, length: 4096 },
        { offset: 2048, length: 4096 },
      ],
      [{ offset: 1 * MiB - 512, length: 1024 }],
      [{ offset: 0, length: 0 }],
    ];
    for (const extents of bad) {
      await expect(
        ourArchive(image, { memberName: 'root.img', format: 'gnu-sparse', extents }),
      ).rejects.toMatchObject({ code: 'forge.bad-option' });
    }
  });
});

describe('split parts', () => {
  it('splitSuffix widens like coreutils split -d, and writeSplitParts matches split -d -b', async () => {
    const dir = path.join(work, `split-${caseNumber++}`);
    await mkdir(path.join(dir, 'gnu'), { recursive: true });
    await mkdir(path.join(dir, 'ours'), { recursive: true });
    const bytes = new Uint8Array(103 * 37 + 5).map((_, i) => (i * 7) % 251);
    await writeFile(path.join(dir, 'input'), bytes);
    await execa('split', [
      '-d',
      '-b',
      '37',
      path.join(dir, 'input'),
      path.join(dir, 'gnu', 'root.img.part.'),
    ]);
    const gnuNames = (await readdir(path.join(dir, 'gnu'))).sort();
    const ours = await writeSplitParts(fromBytes(bytes, 100), path.join(dir, 'ours'), { partSize: 37 });
    expect(ours.map((p) => path.basename(p))).toEqual(gnuNames);
    expect(gnuNames).toContain('root.img.part.9000');
    for (const name of gnuNames) {
      expect(
        Buffer.compare(
          await readFile(path.join(dir, 'ours', name)),
          await readFile(path.join(dir, 'gnu', name)),
        ),
      ).toBe(0);
    }
    expect(splitSuffix(0)).toBe('00');
    expect(splitSuffix(89)).toBe('89');
    expect(splitSuffix(90)).toBe('9000');
    expect(splitSuffix(989)).toBe('9899');
    expect(splitSuffix(990)).toBe('990000');
  });

  it('splitStream cuts a writer stream into parts that read back as one archive', async () => {
    const layout = LAYOUTS[5]!;
    const { dir, image } = await imageCase(layout);
    const parts: Uint8Array[] = [];
    for await (const part of splitStream(
      writeSparseTar(image, { memberName: 'root.img', format: 'gnu-sparse' }),
      10_000,
    ))
      parts.push(part);
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.slice(0, -1).every((p) => p.length === 10_000)).toBe(true);
    const out = path.join(dir, 'ours.img');
    await writeSparseFile(readSparseTar(fromBytes(Buffer.concat(parts), 3333)), out);
    expect(await sha256File(out)).toBe(await sha256File(image));
  });
});
