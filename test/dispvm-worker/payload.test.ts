import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackPayload, type UnpackOptions } from '../../dispvm-worker/payload.ts';
import { TmplError, VerificationError } from '../../protocol/errors.ts';
import type { PackageInfo } from '../../protocol/rpm-types.ts';
import { ALL_COMPRESSORS, buildRpm, type FixtureFile, type RpmCompressor } from '../helpers/rpm-fixtures.ts';
import { collect } from '../helpers/cpio-builder.ts';
import { expectCode } from '../helpers/expect-error.ts';
import { openPackage } from '../helpers/payload-fixture.ts';
import { semiCompressible } from '../helpers/payload-data.ts';

const TEMPLATE_DIR = '/var/lib/qubes/vm-templates/fixture';
const FILES: FixtureFile[] = [
  { path: `${TEMPLATE_DIR}/template.conf`, content: 'virt_mode=pvh\nkernel=\n' },
  { path: `${TEMPLATE_DIR}/root.img.part.00`, content: semiCompressible(256 * 1024, 11), mode: 0o600 },
  { path: `${TEMPLATE_DIR}/root.img.part.01`, content: semiCompressible(100 * 1024 + 3, 12) },
  { path: `${TEMPLATE_DIR}/empty`, content: '' },
  { path: `${TEMPLATE_DIR}/zeros`, sparseSize: 300_000 },
];

let dir: string;
const packages = new Map<RpmCompressor, string>();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-payload-'));
  for (const compressor of ALL_COMPRESSORS) {
    const out = path.join(dir, compressor);
    await mkdir(out);
    packages.set(
      compressor,
      await buildRpm({
        dir: out,
        name: 'qubes-template-fixture',
        version: '4.2.0',
        release: '1',
        compressor,
        files: FILES,
      }),
    );
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function unpackToMap(
  pkgPath: string,
  opts: UnpackOptions = {},
  edit: (info: PackageInfo) => PackageInfo = (i) => i,
): Promise<Map<string, Uint8Array>> {
  const { info, payload } = await openPackage(pkgPath);
  const files = new Map<string, Uint8Array>();
  for await (const entry of unpackPayload(edit(info), payload, opts)) {
    files.set(entry.path, await collect(entry.content));
  }
  return files;
}

/** The incumbent's way: rpm2cpio PKG | cpio -idm, then every regular file read back. */
async function rpm2cpioFiles(pkgPath: string, into: string): Promise<Map<string, Uint8Array>> {
  await mkdir(into, { recursive: true });
  await execa('sh', ['-c', 'rpm2cpio "$0" | cpio --quiet -idm', pkgPath], { cwd: into });
  const out = new Map<string, Uint8Array>();
  async function walk(rel: string): Promise<void> {
    for (const name of await readdir(path.join(into, rel))) {
      const r = path.join(rel, name);
      const st = await stat(path.join(into, r));
      if (st.isDirectory()) await walk(r);
      else out.set('/' + r, new Uint8Array(await readFile(path.join(into, r))));
    }
  }
  await walk('');
  return out;
}

describe.each(ALL_COMPRESSORS)('a package built with %s', (compressor) => {
  it('unpacks byte for byte like rpm2cpio | cpio -idm', async () => {
    const pkg = packages.get(compressor)!;
    const ours = await unpackToMap(pkg);
    const theirs = await rpm2cpioFiles(pkg, path.join(dir, `x-${compressor}`));
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [p, bytes] of theirs)
      expect(Buffer.from(ours.get(p)!).equals(Buffer.from(bytes)), p).toBe(true);
    expect(ours.get(`${TEMPLATE_DIR}/zeros`)!.length).toBe(300_000);
  });
});

describe('verification against the header', () => {
  const pkg = (): string => packages.get('w3.zstdio')!;
  const conf = `${TEMPLATE_DIR}/template.conf`;
  const part = `${TEMPLATE_DIR}/root.img.part.00`;
  const editFile =
    (p: string, change: object) =>
    (info: PackageInfo): PackageInfo => ({
      ...info,
      files: info.files.map((f) => (f.path === p ? { ...f, ...change } : f)),
    });

  it('a wrong file digest fails at the end of that file, before the consumer sees its end', async () => {
    const { info, payload } = await openPackage(pkg());
    const edited = editFile(part, { digest: '0'.repeat(64) })(info);
    let received = 0;
    let sawEnd = false;
    await expectCode(
      async () => {
        for await (const entry of unpackPayload(edited, payload)) {
          if (entry.path !== part) continue;
          for await (const chunk of entry.content) received += chunk.length;
          sawEnd = true;
        }
      },
      'digest.file-mismatch',
      VerificationError,
    );
    expect(received).toBe(256 * 1024);
    expect(sawEnd).toBe(false);
  });

  it('a consumer that stops reading early does not skip the digest check', async () => {
    const { info, payload } = await openPackage(pkg());
    const edited = editFile(part, { digest: '0'.repeat(64) })(info);
    await expectCode(
      async () => {
        for await (const entry of unpackPayload(edited, payload)) {
          for await (const chunk of entry.content) {
            void chunk;
            break;
          }
        }
      },
      'digest.file-mismatch',
      VerificationError,
    );
  });

  it('a wrong payload digest fails at the end of the payload', async () => {
    await expectCode(
      () => unpackToMap(pkg(), {}, (info) => ({ ...info, payloadDigest: 'f'.repeat(64) })),
      'digest.payload-mismatch',
      VerificationError,
    );
  });

  it('a damaged payload byte is caught', async () => {
    const bytes = new Uint8Array(await readFile(packages.get('w0.ufdio')!));
    const { payloadOffset } = await openPackage(packages.get('w0.ufdio')!);
    const content = Buffer.from(bytes).indexOf('virt_mode=pvh', payloadOffset);
    bytes[content] = 0x56;
    const damaged = path.join(dir, 'damaged.rpm');
    await writeFile(damaged, bytes);
    await expectCode(() => unpackToMap(damaged), 'digest.file-mismatch', VerificationError);
  });

  it('files outside allowedPaths are not yielded but are still verified', async () => {
    const only = await unpackToMap(pkg(), { allowedPaths: new Set([conf]) });
    expect([...only.keys()]).toEqual([conf]);
    expect(new TextDecoder().decode(only.get(conf))).toBe('virt_mode=pvh\nkernel=\n');
    await expectCode(
      () =>
        unpackToMap(pkg(), { allowedPaths: (p) => p === conf }, editFile(part, { digest: '1'.repeat(64) })),
      'digest.file-mismatch',
      VerificationError,
    );
  });

  it.each([
    [
      'an archive file missing from the header',
      'payload.unlisted-file',
      (i: PackageInfo) => ({ ...i, files: i.files.filter((f) => f.path !== part) }),
    ],
    [
      'a header file missing from the archive',
      'payload.missing-file',
      (i: PackageInfo) => ({ ...i, files: [...i.files, { ...i.files[0]!, path: '/zzz' }] }),
    ],
    ['a size that differs', 'payload.size-mismatch', editFile(conf, { size: 5 })],
    ['a mode that differs', 'payload.mode-mismatch', editFile(conf, { mode: 0o100755 })],
    ['a %ghost file present in the archive', 'payload.ghost-file', editFile(conf, { flags: 1 << 6 })],
    [
      'MD5 file digests',
      'digest.file-algorithm',
      (i: PackageInfo) => ({ ...i, fileDigestAlgo: 'md5' as const }),
    ],
    ['no payload digest', 'digest.payload-missing', (i: PackageInfo) => ({ ...i, payloadDigest: null })],
  ])('%s is refused', async (_what, code, edit) => {
    await expectCode(() => unpackToMap(pkg(), {}, edit), code, TmplError);
  });

  it('a %ghost file absent from the archive is fine', async () => {
    const files = await unpackToMap(pkg(), {}, (i) => ({
      ...i,
      files: [...i.files, { ...i.files[0]!, path: '/ghost', flags: 1 << 6 }],
    }));
    expect(files.size).toBe(FILES.length);
  });

  it('a payload whose compressor differs from PAYLOADCOMPRESSOR is refused', async () => {
    await expectCode(
      () => unpackToMap(pkg(), {}, (i) => ({ ...i, payloadCompressor: 'xz' })),
      'payload.compressor-mismatch',
    );
  });

  it('accepts a missing payload digest only when asked', async () => {
    const files = await unpackToMap(pkg(), { allowMissingPayloadDigest: true }, (i) => ({
      ...i,
      payloadDigest: null,
    }));
    expect(files.size).toBe(FILES.length);
  });

  it('the decompressed size is capped while it flows', async () => {
    await expectCode(() => unpackToMap(pkg(), { maxPayloadBytes: 64 * 1024 }), 'payload.too-large');
  });
});

describe('a package with a file over 4 GiB (stripped 07070X cpio)', () => {
  const BIG = 4 * 1024 ** 3 + 8192;
  let big: string;

  beforeAll(async () => {
    const out = path.join(dir, 'big');
    await mkdir(out);
    big = await buildRpm({
      dir: out,
      name: 'qubes-template-big',
      version: '1',
      release: '1',
      compressor: 'w3.zstdio',
      files: [
        { path: `${TEMPLATE_DIR}/template.conf`, content: 'a=b\n' },
        { path: `${TEMPLATE_DIR}/root.img`, content: 'start-of-image\n', sparseSize: BIG },
      ],
    });
  }, 600_000);

  it('rpm2cpio refuses it', async () => {
    const r = await execa('sh', ['-c', 'rpm2cpio "$0" | head -c 6', big], {
      reject: false,
      encoding: 'buffer',
    });
    expect(new TextDecoder().decode(r.stdout)).not.toBe('070701');
  });

  it('unpacks it, checking the header digest of the large file', async () => {
    const { info, payload } = await openPackage(big);
    const got: { path: string; size: number; sha: string; head: string }[] = [];
    for await (const entry of unpackPayload(info, payload)) {
      const hash = createHash(info.fileDigestAlgo);
      let head = '';
      let size = 0;
      for await (const chunk of entry.content) {
        if (head.length < 15) head += new TextDecoder().decode(chunk.subarray(0, 15 - head.length));
        hash.update(chunk);
        size += chunk.length;
      }
      got.push({ path: entry.path, size, sha: hash.digest('hex'), head });
    }
    expect(got.map((g) => [g.path, g.size])).toEqual(info.files.map((f) => [f.path, f.size]));
    expect(got.find((g) => g.path.endsWith('root.img'))!.size).toBe(BIG);
    expect(got.find((g) => g.path.endsWith('root.img'))!.head).toBe('start-of-image\n');
    for (const g of got) expect(g.sha).toBe(info.files.find((f) => f.path === g.path)!.digest);
  }, 600_000);
});
