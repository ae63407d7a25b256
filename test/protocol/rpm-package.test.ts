/**
 * Package heads and PackageInfo from packages built by rpmbuild, in every payload compression,
 * checked against what rpm itself reads from the same files (`rpm -qp --qf`).
 */
import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteReader } from '../../protocol/byte-reader.ts';
import { ParseError } from '../../protocol/errors.ts';
import { packageInfo } from '../../protocol/rpm-info.ts';
import { parsePackageHead, readPackageHead } from '../../protocol/rpm-package.ts';
import { SigTag, Tag } from '../../protocol/rpm-tags.ts';
import { ALL_COMPRESSORS, buildRpm, type RpmCompressor } from '../helpers/rpm-fixtures.ts';
import { rebuildPackage } from '../helpers/rpm-header-writer.ts';

let dir: string;
const built: { compressor: RpmCompressor; epoch: number | undefined; path: string }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-rpm-package-'));
  for (const [i, compressor] of ALL_COMPRESSORS.entries()) {
    const name = `qubes-template-p${i}`;
    const epoch = i % 2 === 1 ? i * 10 : undefined;
    const base = `/var/lib/qubes/vm-templates/${name}`;
    const p = await buildRpm({
      dir,
      name,
      version: '4.2.0',
      release: `20260101${i}`,
      ...(epoch === undefined ? {} : { epoch }),
      compressor,
      summary: `Qubes template ${i} – ünïcode`,
      description: `Line one of ${name}.\nLine two.`,
      license: 'GPLv3+',
      ...(i % 3 === 0 ? { url: `https://example.invalid/${name}` } : {}),
      buildtime: 1_700_000_000 + i,
      files: [
        { path: `${base}/template.conf`, content: 'virt_mode=pvh\n', mode: 0o644 },
        { path: `${base}/root.img.part.00`, content: new Uint8Array(5000).fill(i), mode: 0o600 },
        { path: `${base}/root.img.part.01`, sparseSize: 3 << 20, content: 'x' },
      ],
      preScript: 'echo pre',
    });
    built.push({ compressor, epoch, path: p });
  }
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rpmQuery(pkg: string, format: string): Promise<string> {
  const db = path.join(dir, 'db');
  const { stdout } = await execa(
    'rpm',
    ['-qp', `--dbpath=${db}`, '--nosignature', '--nodigest', '--qf', format, pkg],
    {
      env: { LC_ALL: 'C.UTF-8', HOME: dir },
    },
  );
  return stdout;
}
function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
const none = (s: string) => (s === '(none)' ? null : s);

describe('package heads built by rpmbuild', () => {
  it('parse the same from a buffer and from a 1 KiB-chunked stream, and the payload follows', async () => {
    for (const b of built) {
      const file = new Uint8Array(await readFile(b.path));
      const head = parsePackageHead(file);
      async function* chunks() {
        for (let i = 0; i < file.length; i += 1024) yield await Promise.resolve(file.subarray(i, i + 1024));
      }
      const reader = new ByteReader(chunks());
      const streamed = await readPackageHead(reader);
      expect(streamed.headBytes).toEqual(head.headBytes);
      expect(reader.position).toBe(head.payloadOffset);
      expect(head.headBytes).toEqual(file.subarray(0, head.payloadOffset));
      expect(head.headerBytes).toEqual(file.subarray(head.header.fileOffset, head.payloadOffset));
      expect(head.header.fileOffset % 8).toBe(0);
      let rest = 0;
      for await (const c of reader.rest()) rest += c.length;
      expect(rest).toBe(file.length - head.payloadOffset);
      // rpm's own head size, through rpm2cpio-independent means: the payload starts with the
      // compressor's magic (or cpio's for w0.ufdio).
      const magic = Buffer.from(file.subarray(head.payloadOffset, head.payloadOffset + 6)).toString('hex');
      const expected: Record<string, RegExp> = {
        'w2.xzdio': /^fd377a585a00/,
        'w19.zstdio': /^28b52ffd/,
        'w3.zstdio': /^28b52ffd/,
        'w9.gzdio': /^1f8b/,
        'w9.bzdio': /^425a68/,
        'w6.lzdio': /^5d0000/,
        'w0.ufdio': /^303730373031/,
      };
      expect(magic).toMatch(expected[b.compressor]!);
    }
  });

  it('yield the PackageInfo rpm reads from them', async () => {
    const compressorNames: Record<RpmCompressor, string | null> = {
      'w2.xzdio': 'xz',
      'w19.zstdio': 'zstd',
      'w3.zstdio': 'zstd',
      'w9.gzdio': 'gzip',
      'w9.bzdio': 'bzip2',
      'w6.lzdio': 'lzma',
      'w0.ufdio': null,
    };
    for (const b of built) {
      const info = packageInfo(parsePackageHead(new Uint8Array(await readFile(b.path))).header);
      const q = (
        await rpmQuery(
          b.path,
          '%{NAME}\\n%{EPOCH}\\n%{VERSION}\\n%{RELEASE}\\n%{ARCH}\\n%{BUILDTIME}\\n%{LICENSE}\\n%{URL}\\n%{SUMMARY}\\n%{PAYLOADFORMAT}\\n%{PAYLOADCOMPRESSOR}\\n%{PAYLOADDIGEST}\\n%{PAYLOADDIGESTALT}\\n%{LONGSIZE}\\n%{FILEDIGESTALGO}',
        )
      ).split('\n');
      expect({
        name: info.name,
        epoch: info.epoch === null ? null : String(info.epoch),
        version: info.version,
        release: info.release,
        arch: info.arch,
        buildtime: String(info.buildtime),
        license: info.license,
        url: info.url === '' ? null : info.url,
        summary: info.summary,
        payloadFormat: info.payloadFormat,
        payloadCompressor: info.payloadCompressor,
        payloadDigest: info.payloadDigest,
        payloadDigestAlt: info.payloadDigestAlt,
        size: String(info.size),
        fileDigestAlgo: info.fileDigestAlgo,
      }).toEqual({
        name: q[0],
        epoch: none(q[1]!),
        version: q[2],
        release: q[3],
        arch: q[4],
        buildtime: q[5],
        license: q[6],
        url: none(q[7]!),
        summary: q[8],
        payloadFormat: q[9],
        payloadCompressor: none(q[10]!),
        payloadDigest: q[11],
        payloadDigestAlt: q[12],
        size: q[13],
        fileDigestAlgo: q[14] === '8' ? 'sha256' : q[14],
      });
      expect(info.payloadCompressor).toBe(compressorNames[b.compressor]);
      expect(info.epoch).toBe(b.epoch ?? null);
      expect(info.description).toBe(await rpmQuery(b.path, '%{DESCRIPTION}'));
      const files = (
        await rpmQuery(
          b.path,
          '[%{FILENAMES}\\t%{LONGFILESIZES}\\t%{FILEMODES}\\t%{FILEDIGESTS}\\t%{FILEFLAGS}\\t%{FILELINKTOS}\\n]',
        )
      )
        .split('\n')
        .map((l) => l.split('\t'));
      expect(
        info.files.map((f) => [f.path, String(f.size), String(f.mode), f.digest, String(f.flags), f.linkTo]),
      ).toEqual(files);
      expect(info.files.find((f) => f.path.endsWith('root.img.part.01'))!.size).toBe(3 << 20);
    }
  });

  it('keeps signature tags out of PackageInfo: the signature header is separate', async () => {
    const head = parsePackageHead(new Uint8Array(await readFile(built[0]!.path)));
    expect(head.signature.has(SigTag.SHA256HEADER)).toBe(true);
    expect(head.header.has(Tag.SHA256HEADER)).toBe(false);
  });
});

describe('packageInfo refuses what tmpl does not support', () => {
  it('MD5 file digests: FILEDIGESTALGO absent or 1', async () => {
    const file = new Uint8Array(await readFile(built[2]!.path));
    const head = parsePackageHead(file);
    const drop = parsePackageHead(
      rebuildPackage(file, head, { header: (e) => e.filter((x) => x.tag !== Tag.FILEDIGESTALGO) }),
    );
    expect(() => packageInfo(drop.header)).toThrowError(expect.objectContaining({ code: 'rpm.digest.md5' }));
    const md5 = parsePackageHead(
      rebuildPackage(file, head, {
        header: (e) =>
          e.map((x) => (x.tag === Tag.FILEDIGESTALGO ? { ...x, data: Uint8Array.of(0, 0, 0, 1) } : x)),
      }),
    );
    const err = catchError(() => packageInfo(md5.header));
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).code).toBe('rpm.digest.md5');
  });

  it('file columns that disagree in length, and directory indexes out of range', async () => {
    const file = new Uint8Array(await readFile(built[2]!.path));
    const head = parsePackageHead(file);
    const short = parsePackageHead(
      rebuildPackage(file, head, {
        header: (e) =>
          e.map((x) => (x.tag === Tag.FILEFLAGS ? { ...x, count: 2, data: x.data.subarray(0, 8) } : x)),
      }),
    );
    expect(() => packageInfo(short.header)).toThrowError(
      expect.objectContaining({ code: 'rpm.info.file-count' }),
    );
    const badDir = parsePackageHead(
      rebuildPackage(file, head, {
        header: (e) =>
          e.map((x) =>
            x.tag === Tag.DIRINDEXES ? { ...x, data: new Uint8Array(x.data.length).fill(9) } : x,
          ),
      }),
    );
    expect(() => packageInfo(badDir.header)).toThrowError(
      expect.objectContaining({ code: 'rpm.info.dir-index' }),
    );
  });
});
