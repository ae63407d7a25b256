/**
 * Writes the seed corpus, fuzz/corpus/<target>/seed-*, from the project's own writers: the
 * protocol encoders for frames and messages, the forge's signed template RPMs for the RPM
 * targets, the forge's and GNU tar's root-image archives (with the forge's hostile ones) for the
 * sparse targets, and Qubes' own file shapes for template.conf, appmenu lists and .repo files.
 * Run with `node bin/run-ts.mjs fuzz/make-corpus.ts`; the fuzzer's finds (--save) sit beside
 * the seeds under content-hash names and are kept.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeDataFrames, encodeFrame } from '../protocol/frames.ts';
import { encodeMessageFrame, type JsonFrameType } from '../protocol/messages.ts';
import { parsePackageHead } from '../protocol/rpm-package.ts';
import { LEAD_SIZE } from '../protocol/rpm-lead.ts';
import { forgeTemplate, generateSigningKey, writeSparseImage } from '../sim/forge/index.ts';
import { hostileSparseTars } from '../sim/forge/hostile-sparse-tars.ts';
import { writeSparseTar } from '../sim/forge/sparse-tar-writer.ts';
import { paxRecord } from '../sim/forge/tar-blocks.ts';
import { CORPUS_DIR } from './corpus.ts';
import { concatBytes } from './target.ts';
import { JSON_TYPES, WORKER_OPS } from './arbitraries.ts';

/** Seeds above this size are left out (the whole corpus stays at a few MiB). */
const MAX_SEED_BYTES = 96 * 1024;
const text = new TextEncoder();

const seeds = new Map<string, Map<string, Uint8Array>>();
function seed(target: string, name: string, bytes: Uint8Array): void {
  if (bytes.length > MAX_SEED_BYTES) return;
  let forTarget = seeds.get(target);
  if (forTarget === undefined) seeds.set(target, (forTarget = new Map<string, Uint8Array>()));
  forTarget.set(name, bytes);
}

const DIR = '/var/lib/qubes/vm-templates/fedora-41';
const message = <T extends JsonFrameType>(type: T, value: Parameters<typeof encodeMessageFrame<T>>[1]) =>
  encodeMessageFrame(type, value);
const selector = (type: JsonFrameType) => Uint8Array.of(JSON_TYPES.indexOf(type));
const op = (name: (typeof WORKER_OPS)[number], chunk: number) =>
  Uint8Array.of(WORKER_OPS.indexOf(name), chunk);

function messageSeeds(): Record<string, Uint8Array> {
  const repo = {
    id: 'qubes-templates-itl',
    baseurls: ['https://yum.qubes-os.org/r4.2/templates-itl'],
    gpgcheck: true,
    repoGpgcheck: false,
    keys: ['-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxsBN\n-----END PGP PUBLIC KEY BLOCK-----\n'],
  };
  const pkg = {
    repoid: repo.id,
    name: 'qubes-template-fedora-41',
    epoch: 0,
    version: '4.2.0',
    release: '202601010000',
  };
  return {
    'request-query': message('REQUEST', { protocol: 1, op: 'query', releasever: '4.2', repos: [repo] }),
    'request-fetch': message('REQUEST', {
      protocol: 1,
      op: 'fetch',
      releasever: '4.2',
      repos: [repo],
      package: pkg,
      allowedFiles: ['template.conf', 'root.img'],
    }),
    'request-download': message('REQUEST', {
      protocol: 1,
      op: 'download',
      releasever: '4.2',
      repos: [repo],
      package: pkg,
      resumeFrom: 4096,
    }),
    hello: message('HELLO', { protocol: 1, worker: '0.1.0' }),
    progress: message('PROGRESS', { stage: 'unpack', done: 1024, total: 4096 }),
    metadata: message('METADATA', {
      package: { name: pkg.name, epoch: 0, version: '4.2.0', release: '202601010000', arch: 'noarch' },
      repoid: repo.id,
      files: [
        { path: `${DIR}/template.conf`, size: 40 },
        { path: `${DIR}/root.img.part.00`, size: 10240 },
      ],
    }),
    'file-begin': message('FILE_BEGIN', { path: `${DIR}/root.img.part.00`, size: 10240 }),
    'file-end': message('FILE_END', { path: `${DIR}/root.img.part.00` }),
    'query-result': message('QUERY_RESULT', {
      packages: [
        {
          name: pkg.name,
          epoch: 0,
          version: '4.2.0',
          release: '202601010000',
          repoid: repo.id,
          downloadsize: 1234567,
          buildtime: 1767225600,
          license: 'GPL-2.0-or-later',
          url: 'https://www.qubes-os.org',
          summary: 'Qubes template for fedora-41',
          description: 'A template.\n\tIndented line.',
        },
      ],
      warnings: [{ code: 'primary.evr', repoid: repo.id, message: 'package entry skipped' }],
      repomd: [{ repoid: repo.id, repomd: 'PHJlcG9tZC8+', signature: null }],
    }),
    end: message('END', { files: 2, bytes: 10280 }),
    error: message('ERROR', { code: 'worker.fetch-failed', message: 'mirror said 404\nsecond line' }),
  };
}

function frameSeeds(m: Record<string, Uint8Array>, head: Uint8Array): void {
  const hello = m['hello']!;
  const progress = m['progress']!;
  const fileData = [...encodeDataFrames('FILE_DATA', text.encode('gui=1\nqrexec=1\n'))];
  const fetch = [hello, progress, encodeFrame('HEAD', head), m['metadata']!];
  fetch.push(m['file-begin']!, ...fileData, m['file-end']!, progress, m['end']!);
  seed('frames', 'seed-fetch', concatBytes([op('fetch', 0), ...fetch]));
  seed('frames', 'seed-unpack-chunked', concatBytes([op('unpack', 5), ...fetch]));
  seed('frames', 'seed-query', concatBytes([op('query', 0), hello, progress, m['query-result']!, m['end']!]));
  const payload = [...encodeDataFrames('PAYLOAD_DATA', new Uint8Array(300).fill(7))];
  seed(
    'frames',
    'seed-download',
    concatBytes([op('download', 3), hello, encodeFrame('HEAD', head), ...payload, m['end']!]),
  );
  seed('frames', 'seed-header', concatBytes([op('header', 0), hello, encodeFrame('HEAD', head), m['end']!]));
  seed('frames', 'seed-error', concatBytes([op('fetch', 1), hello, m['error']!]));
  for (const [name, frame] of Object.entries(m)) {
    const type = (
      name.startsWith('request') ? 'REQUEST' : name.toUpperCase().replace('-', '_')
    ) as JsonFrameType;
    seed('messages', `seed-${name}`, concatBytes([selector(type), frame.subarray(8)]));
  }
}

async function rpmSeeds(work: string): Promise<Uint8Array> {
  const key = await generateSigningKey('Fuzz Corpus Signer', { date: new Date('2026-01-01T00:00:00Z') });
  const common = {
    name: 'fedora-41',
    version: '4.2.0',
    release: '202601010000',
    image: { size: 64 * 1024, extents: [{ offset: 4096, length: 2000, seed: 'fuzz' }] },
    partSize: 16 * 1024,
    templateConf: 'gui=1\nqrexec=1\nvirt-mode=pvh\n',
    appmenus: { whitelisted: 'org.gnome.Terminal.desktop\n', vm: 'firefox.desktop\n' },
    outDir: work,
    tempDir: work,
  };
  const variants = {
    signed: { signingKey: key, compressor: 'zstd' as const },
    'signed-v3': { signingKey: key, legacySignature: true, compressor: 'xz' as const, epoch: 1 },
    unsigned: { compressor: 'none' as const },
  };
  let signedHead: Uint8Array | undefined;
  for (const [name, extra] of Object.entries(variants)) {
    const dir = path.join(work, name);
    await mkdir(dir);
    const forged = await forgeTemplate({ ...common, ...extra, outDir: dir });
    const bytes = new Uint8Array(await readFile(forged.path));
    const head = parsePackageHead(bytes);
    const headAndSome = bytes.subarray(0, head.payloadOffset + 16);
    signedHead ??= head.headBytes;
    seed('rpm-lead', `seed-${name}`, bytes.subarray(0, LEAD_SIZE));
    seed('rpm-header', `seed-${name}-main`, concatBytes([Uint8Array.of(0), head.header.bytes]));
    seed('rpm-header', `seed-${name}-signature`, concatBytes([Uint8Array.of(1), head.signature.bytes]));
    seed('rpm-signature', `seed-${name}`, head.signature.bytes);
    seed('rpm-package', `seed-${name}`, concatBytes([Uint8Array.of(0), headAndSome]));
    seed('rpm-package', `seed-${name}-chunked`, concatBytes([Uint8Array.of(61), head.headBytes]));
  }
  return signedHead ?? new Uint8Array(0);
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return concatBytes(parts);
}

async function sparseSeeds(work: string): Promise<void> {
  const image = path.join(work, 'root.img');
  // Data regions at 0, 8 KiB and 40 KiB of a 64 KiB image: holes between and after.
  await writeSparseImage(image, {
    size: 64 * 1024,
    extents: [
      { offset: 0, bytes: new Uint8Array(512).fill(1) },
      { offset: 8192, bytes: new Uint8Array(1536).fill(2) },
      { offset: 40960, bytes: new Uint8Array(700).fill(3) },
    ],
  });
  for (const format of ['gnu-sparse', 'pax-1.0', 'plain'] as const) {
    const archive = await collect(writeSparseTar(image, { memberName: 'root.img', format, mtime: 0 }));
    seed('sparse-tar', `seed-forge-${format}`, concatBytes([Uint8Array.of(0), archive]));
  }
  const gnuTar = (name: string, args: string[]) => {
    const out = execFileSync(
      'tar',
      [...args, '--mtime=@0', '--owner=0', '--group=0', '-cf', '-', 'root.img'],
      {
        cwd: work,
        maxBuffer: 1 << 24,
      },
    );
    seed('sparse-tar', `seed-gnu-tar-${name}`, concatBytes([Uint8Array.of(3), new Uint8Array(out)]));
  };
  gnuTar('oldgnu', ['--sparse', '--format=gnu']);
  for (const version of ['0.0', '0.1', '1.0'])
    gnuTar(`pax-${version}`, ['--sparse', '--format=posix', `--sparse-version=${version}`]);
  for (const hostile of hostileSparseTars())
    seed(
      'sparse-tar',
      `seed-hostile-${hostile.name.replace(/[^A-Za-z0-9.-]/g, '-')}`,
      concatBytes([Uint8Array.of(0), hostile.bytes]),
    );
  const pax = (records: [string, string][]) => text.encode(records.map(([k, v]) => paxRecord(k, v)).join(''));
  seed(
    'sparse-pax',
    'seed-1.0',
    pax([
      ['GNU.sparse.major', '1'],
      ['GNU.sparse.minor', '0'],
      ['GNU.sparse.name', 'root.img'],
      ['GNU.sparse.realsize', '65536'],
    ]),
  );
  seed(
    'sparse-pax',
    'seed-0.1',
    pax([
      ['GNU.sparse.numblocks', '2'],
      ['GNU.sparse.map', '0,512,8192,1536'],
      ['GNU.sparse.name', 'root.img'],
      ['GNU.sparse.realsize', '65536'],
      ['GNU.sparse.size', '2048'],
    ]),
  );
  seed(
    'sparse-pax',
    'seed-0.0',
    pax([
      ['GNU.sparse.numblocks', '2'],
      ['GNU.sparse.offset', '0'],
      ['GNU.sparse.numbytes', '512'],
      ['GNU.sparse.offset', '8192'],
      ['GNU.sparse.numbytes', '1536'],
      ['GNU.sparse.size', '65536'],
    ]),
  );
  seed(
    'sparse-pax',
    'seed-plain',
    pax([
      ['path', 'var/lib/qubes/vm-templates/fedora-41/root.img'],
      ['size', '65536'],
      ['mtime', '0.5'],
    ]),
  );
}

function textSeeds(): Promise<void> {
  const conf = (allowPv: number, body: string) => concatBytes([Uint8Array.of(allowPv), text.encode(body)]);
  seed('template-conf', 'seed-fedora', conf(0, 'gui=1\nqrexec=1\nlinux-stubdom=1\nvirt-mode=pvh\nkernel=\n'));
  seed(
    'template-conf',
    'seed-whonix',
    conf(
      0,
      'net.fake-ip=10.152.152.11\nnet.fake-gateway=10.152.152.10\nnet.fake-netmask=255.255.192.0\nqrexec=1\n',
    ),
  );
  seed(
    'template-conf',
    'seed-windows',
    conf(1, 'virt-mode=hvm\ngui-emulated=1\npci-e820-host=1\nno-monitor-layout=1\nselinux=0\n'),
  );
  seed('template-conf', 'seed-pv', conf(1, 'virt-mode=pv\nunknown-key=x\n'));
  seed(
    'appmenus',
    'seed-whitelisted',
    text.encode('org.gnome.Terminal.desktop\norg.gnome.Nautilus.desktop\nfirefox.desktop\n'),
  );
  seed(
    'appmenus',
    'seed-netvm',
    text.encode('org.gnome.Terminal.desktop\nnm-connection-editor.desktop \t\n\n'),
  );
  return readFile(
    path.join(import.meta.dirname, '..', 'test/orchestrator/repos/fixtures/qubes-templates.repo'),
  ).then((repo) => {
    const custom = text.encode(
      '[main]\ncachedir=/x\n\n[local-$basearch]\nname=Local ${releasever:-4.2}\nbaseurl=https://mirror.invalid/r$releasever/a\n  https://b.invalid/x,https://c.invalid/y\nenabled=yes\ngpgcheck=on\nrepo_gpgcheck=1\ngpgkey=file:///etc/k1\n file:///etc/k2\nmetadata_expire=never\nsslverify=0\nsslcacert=/etc/ca.pem\n; comment\n',
    );
    for (const target of ['ini-file', 'repo-config']) {
      seed(target, 'seed-qubes-templates', new Uint8Array(repo));
      seed(target, 'seed-custom', custom);
    }
  });
}

const work = await mkdtemp(path.join(tmpdir(), 'tmpl-fuzz-corpus-'));
try {
  const head = await rpmSeeds(work);
  frameSeeds(messageSeeds(), head);
  await sparseSeeds(work);
  await textSeeds();
} finally {
  await rm(work, { recursive: true, force: true });
}
let total = 0;
for (const [target, files] of seeds) {
  const dir = path.join(CORPUS_DIR, target);
  await mkdir(dir, { recursive: true });
  for (const old of await readdir(dir)) if (old.startsWith('seed-')) await rm(path.join(dir, old));
  for (const [name, bytes] of files) {
    await writeFile(path.join(dir, name), bytes);
    total += bytes.length;
  }
  process.stdout.write(`${target}: ${files.size} seeds\n`);
}
process.stdout.write(`${total} bytes of seeds in ${path.relative(process.cwd(), CORPUS_DIR)}\n`);
