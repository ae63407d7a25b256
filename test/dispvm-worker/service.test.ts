/**
 * The worker as a real process (`node bin/tmpl-worker.mjs`), fed REQUEST frames, against
 * repositories made with createrepo_c and signed with gpg, template-shaped packages built with
 * rpmbuild and signed with rpmsign, served by the repository server on 127.0.0.1. The files the
 * worker sends are compared with rpm2cpio's extraction.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeFrames,
  encodeDataFrames,
  FrameSequence,
  type Frame,
  type WorkerOp,
} from '../../protocol/frames.ts';
import {
  decodeJsonFrame,
  encodeRequest,
  type JsonFrameType,
  type RepoConfig,
  type WorkerRequest,
} from '../../protocol/messages.ts';
import { parsePackageHead } from '../../protocol/rpm-package.ts';
import { HEAD_PROBE_BYTES } from '../../dispvm-worker/ops-package.ts';
import { runWorker as runWorkerInline } from '../../dispvm-worker/service.ts';
import { startRepoServer, type RepoServer } from '../../sim/repo-server/index.ts';
import {
  buildRpm,
  makeGpgKey,
  removeGpgKey,
  signRpm,
  type GpgKey,
  GPG_BATCH,
} from '../helpers/rpm-fixtures.ts';

const WORKER = path.resolve(import.meta.dirname, '../../bin/tmpl-worker.mjs');
const DIR = '/var/lib/qubes/vm-templates/fixture';
const ALLOWED = [
  'netvm-whitelisted-appmenus.list',
  'root.img.part.00',
  'root.img.part.01',
  'template.conf',
  'vm-whitelisted-appmenus.list',
  'whitelisted-appmenus.list',
].map((f) => `${DIR}/${f}`);

let work: string;
let trusted: GpgKey;
let stranger: GpgKey;
let goodRpm: string;
let strangerRpm: string;
let extracted: Map<string, Buffer>;
let signedServer: RepoServer;
let unsignedServer: RepoServer;
let brokenMirror: RepoServer;

interface WorkerRun {
  readonly exitCode: number;
  readonly frames: Frame[];
  readonly stderr: string;
}

/**
 * Runs one request: as a real process (`node bin/tmpl-worker.mjs`, as qrexec runs it) or, to
 * keep the suite fast, through the same runWorker() in this process.
 */
async function runWorker(
  request: unknown,
  extra: Uint8Array[] = [],
  mode: 'process' | 'inline' = 'inline',
): Promise<WorkerRun> {
  const op = (request as { op: WorkerOp }).op;
  const input = Buffer.concat([safeEncode(request as WorkerRequest), ...extra]);
  let stdout: Buffer;
  let exitCode: number;
  let stderr = '';
  if (mode === 'process') {
    const result = await execa('node', [WORKER], {
      input,
      encoding: 'buffer',
      reject: false,
      env: { TMPL_WORKER_LOG_LEVEL: 'warn' },
    });
    stdout = Buffer.from(result.stdout);
    exitCode = result.exitCode ?? -1;
    stderr = Buffer.from(result.stderr).toString('utf8');
  } else {
    const chunks: Buffer[] = [];
    const output = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        // Asynchronous completion: the worker has to wait for 'drain'.
        setImmediate(callback);
      },
    });
    exitCode = await runWorkerInline({ input: [input], output, logger: pino({ level: 'silent' }) });
    stdout = Buffer.concat(chunks);
  }
  const frames: Frame[] = [];
  // The stream must be well formed for the operation, whatever happened.
  for await (const frame of decodeFrames([stdout], { sequence: new FrameSequence(op) })) {
    if (frame.type !== 'FILE_DATA' && frame.type !== 'PAYLOAD_DATA' && frame.type !== 'HEAD') {
      decodeJsonFrame(frame, frame.type as JsonFrameType);
    }
    frames.push(frame);
  }
  return { exitCode, frames, stderr };
}

function safeEncode(request: WorkerRequest): Buffer {
  try {
    return Buffer.from(encodeRequest(request));
  } catch {
    // Hostile requests: frame them by hand, unvalidated.
    const payload = Buffer.from(JSON.stringify(request));
    const header = Buffer.alloc(8);
    header[0] = 0x01;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  }
}

function json<T = Record<string, unknown>>(frame: Frame): T {
  return decodeJsonFrame(frame, frame.type as JsonFrameType) as T;
}

function errorOf(run: WorkerRun): { code: string; message: string } {
  const last = run.frames.at(-1)!;
  expect(last.type).toBe('ERROR');
  expect(run.exitCode).not.toBe(0);
  return json(last);
}

/** Files from FILE_BEGIN/FILE_DATA/FILE_END, checked for consistency. */
function filesOf(run: WorkerRun): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let current: { path: string; size: number; parts: Buffer[] } | null = null;
  for (const frame of run.frames) {
    if (frame.type === 'FILE_BEGIN') current = { ...json<{ path: string; size: number }>(frame), parts: [] };
    if (frame.type === 'FILE_DATA') current!.parts.push(Buffer.from(frame.payload));
    if (frame.type === 'FILE_END') {
      expect(json<{ path: string }>(frame).path).toBe(current!.path);
      const bytes = Buffer.concat(current!.parts);
      expect(bytes.length).toBe(current!.size);
      files.set(current!.path, bytes);
      current = null;
    }
  }
  return files;
}

function repo(server: RepoServer, key: GpgKey, overrides: Partial<RepoConfig> = {}): RepoConfig {
  return {
    id: 'fixture-repo',
    baseurls: [server.url],
    gpgcheck: true,
    repoGpgcheck: true,
    keys: [key.publicKeyArmored],
    ...overrides,
  };
}

const GOOD_REF = {
  repoid: 'fixture-repo',
  name: 'qubes-template-fixture',
  epoch: 0,
  version: '4.2.0',
  release: '202601010000',
};
const STRANGER_REF = { ...GOOD_REF, release: '202601020000' };

async function createRepo(dir: string, packages: string[], signWith?: GpgKey): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const p of packages) await writeFile(path.join(dir, path.basename(p)), await readFile(p));
  await execa('createrepo_c', ['--no-database', '--revision', '1', '--set-timestamp-to-revision', dir]);
  if (signWith !== undefined) {
    await execa(
      'gpg',
      [
        ...GPG_BATCH,
        '--yes',
        '--local-user',
        signWith.fingerprint,
        '--detach-sign',
        '--armor',
        path.join(dir, 'repodata/repomd.xml'),
      ],
      { env: { GNUPGHOME: signWith.gnupgHome } },
    );
  }
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-worker-service-'));
  [trusted, stranger] = await Promise.all([makeGpgKey('Trusted Repo Key'), makeGpgKey('Stranger Key')]);
  const files = [
    { path: `${DIR}/template.conf`, content: 'gui=1\nqrexec=1\n' },
    { path: `${DIR}/whitelisted-appmenus.list`, content: 'xterm.desktop\n' },
    { path: `${DIR}/vm-whitelisted-appmenus.list`, content: 'firefox.desktop\n' },
    { path: `${DIR}/netvm-whitelisted-appmenus.list`, content: 'nm.desktop\n' },
    { path: `${DIR}/root.img.part.00`, content: randomBytes(300_000) },
    { path: `${DIR}/root.img.part.01`, content: randomBytes(50_000) },
    { path: `${DIR}/clean-volatile.img.tar`, content: '' },
    { path: `${DIR}/apps/evil.desktop`, content: 'Exec=rm -rf ~\n' },
    { path: '/etc/profile.d/evil.sh', content: 'echo pwned\n' },
  ];
  const common = {
    dir: work,
    name: 'qubes-template-fixture',
    version: '4.2.0',
    files,
    compressor: 'w19.zstdio' as const,
    license: 'GPL-2.0-or-later AND MIT | spaced licence',
    summary: 'Fixture template | with a pipe',
    description: 'Line one | pipe\nLine two',
    url: 'https://www.qubes-os.org/doc/templates/',
    preScript: 'echo scriptlet; exit 1',
  };
  goodRpm = await buildRpm({ ...common, release: GOOD_REF.release });
  strangerRpm = await buildRpm({ ...common, release: STRANGER_REF.release });
  await signRpm(goodRpm, trusted, { rpmv3: true });
  await signRpm(strangerRpm, stranger);

  const extractDir = path.join(work, 'extract');
  await mkdir(extractDir);
  await execa('sh', ['-c', `rpm2cpio "${goodRpm}" | cpio -idm --quiet`], { cwd: extractDir });
  extracted = new Map();
  for (const p of ALLOWED) extracted.set(p, await readFile(path.join(extractDir, p)));

  await createRepo(path.join(work, 'signed'), [goodRpm, strangerRpm], trusted);
  await createRepo(path.join(work, 'unsigned'), [goodRpm]);
  [signedServer, unsignedServer, brokenMirror] = await Promise.all([
    startRepoServer({ root: path.join(work, 'signed') }),
    startRepoServer({ root: path.join(work, 'unsigned') }),
    startRepoServer({
      root: path.join(work, 'signed'),
      faults: [{ path: '/**', fault: { kind: 'status', status: 500 } }],
    }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([signedServer?.close(), unsignedServer?.close(), brokenMirror?.close()]);
  await Promise.all([trusted && removeGpgKey(trusted), stranger && removeGpgKey(stranger)]);
  if (work) await rm(work, { recursive: true, force: true });
});

function request(op: WorkerOp, repos: RepoConfig[], extra: Partial<WorkerRequest> = {}): WorkerRequest {
  return { protocol: 1, op, releasever: '4.2', repos, ...extra };
}

describe('op hello', () => {
  it('answers HELLO and END from the built worker process, touching no repository', async () => {
    const run = await runWorker({ protocol: 1, op: 'hello', releasever: '4.2', repos: [] }, [], 'process');
    expect(run.exitCode).toBe(0);
    expect(run.frames.map((f) => f.type)).toEqual(['HELLO', 'END']);
    expect(json(run.frames[1]!)).toEqual({ files: 0, bytes: 0 });
  });
});

describe('op query', () => {
  it('lists the template packages of a signed repository with repo_gpgcheck on', async () => {
    const run = await runWorker(request('query', [repo(signedServer, trusted)]));
    expect(run.exitCode).toBe(0);
    expect(run.frames[0]!.type).toBe('HELLO');
    const result = json<{
      packages: { release: string; license: string; description: string; downloadsize: number }[];
    }>(run.frames.find((f) => f.type === 'QUERY_RESULT')!);
    expect(result.packages.map((p) => p.release).sort()).toEqual([GOOD_REF.release, STRANGER_REF.release]);
    const good = result.packages.find((p) => p.release === GOOD_REF.release)!;
    expect(good.license).toBe('GPL-2.0-or-later AND MIT | spaced licence');
    expect(good.description).toBe('Line one | pipe\nLine two');
    expect(good.downloadsize).toBe((await readFile(goodRpm)).length);
  });

  it('lists what dnf repoquery lists, field for field (dnf checks the same repomd signature)', async () => {
    const base = await mkdtemp(path.join(work, 'dnf-'));
    await mkdir(path.join(base, 'repos'));
    await writeFile(
      path.join(base, 'repos/fixture.repo'),
      `[fixture-repo]\nname=fixture\nbaseurl=${signedServer.url}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://${trusted.publicKeyPath}\n`,
    );
    const fields = [
      'name',
      'epoch',
      'version',
      'release',
      'downloadsize',
      'buildtime',
      'license',
      'url',
      'summary',
      'description',
    ];
    // Unit and record separators: the incumbent's '|' breaks on licences and descriptions that hold one.
    const qf = fields.map((f) => `%{${f}}`).join('\x1f') + '\x1e';
    const dnf = await execa(
      'dnf',
      [
        '-y',
        '-q',
        `--setopt=reposdir=${path.join(base, 'repos')}`,
        '--setopt=skip_if_unavailable=False',
        `--installroot=${path.join(base, 'root')}`,
        `--setopt=cachedir=${path.join(base, 'cache')}`,
        '--releasever=4.2',
        '--disableplugin=local',
        'repoquery',
        '--qf',
        qf,
        'qubes-template-*',
      ],
      { env: { LC_ALL: 'C.UTF-8', HOME: base, TZ: 'UTC' }, stdin: 'ignore' },
    );
    const expected = dnf.stdout
      .split('\x1e')
      .map((r) => r.replace(/^\n/, ''))
      .filter((r) => r !== '')
      .map((r) => {
        const v = r.split('\x1f');
        return Object.fromEntries(
          fields.map((f, i) => [f, ['epoch', 'downloadsize'].includes(f) ? Number(v[i]) : v[i]]),
        );
      })
      .sort((a, b) => String(a.release).localeCompare(String(b.release)));
    expect(expected).toHaveLength(2);
    const run = await runWorker(request('query', [repo(signedServer, trusted)]));
    const got = json<{ packages: Record<string, unknown>[] }>(
      run.frames.find((f) => f.type === 'QUERY_RESULT')!,
    )
      .packages.map((p) =>
        Object.fromEntries(
          // dnf prints the build time as 'YYYY-MM-DD HH:MM' in local time (TZ=UTC above).
          fields.map((f) => [
            f,
            f === 'buildtime'
              ? new Date(Number(p[f]) * 1000).toISOString().slice(0, 16).replace('T', ' ')
              : p[f],
          ]),
        ),
      )
      .sort((a, b) => String(a.release).localeCompare(String(b.release)));
    expect(got).toEqual(expected);
  });

  it('refuses an unsigned repository when repo_gpgcheck is on, and reads it when off', async () => {
    const refused = await runWorker(request('query', [repo(unsignedServer, trusted)]));
    expect(errorOf(refused).code).toBe('worker.repo-unsigned');
    const read = await runWorker(request('query', [repo(unsignedServer, trusted, { repoGpgcheck: false })]));
    expect(read.exitCode).toBe(0);
  });

  it('refuses repomd.xml signed by a key the repository does not trust', async () => {
    const run = await runWorker(request('query', [repo(signedServer, stranger)]));
    expect(errorOf(run).code).toBe('repomd.signature.unknown-key');
  });

  it('refuses a repomd.xml altered after signing', async () => {
    const tampered = path.join(work, 'tampered');
    await createRepo(tampered, [goodRpm], trusted);
    const repomdPath = path.join(tampered, 'repodata/repomd.xml');
    await writeFile(
      repomdPath,
      (await readFile(repomdPath, 'utf8')).replace('<revision>1</revision>', '<revision>2</revision>'),
    );
    const server = await startRepoServer({ root: tampered });
    try {
      const run = await runWorker(request('query', [repo(server, trusted)]));
      expect(errorOf(run).code).toBe('repomd.signature.bad');
    } finally {
      await server.close();
    }
  });

  it('refuses primary data that does not match repomd.xml, or takes it from another mirror', async () => {
    signedServer.setFaults([{ path: '/repodata/*primary*', fault: { kind: 'corrupt', offset: 20 } }]);
    try {
      const run = await runWorker(request('query', [repo(signedServer, trusted)]));
      expect(errorOf(run).code).toBe('primary.checksum');
      // With a second mirror, the corrupt one is skipped.
      const good = await startRepoServer({ root: path.join(work, 'signed') });
      try {
        const failover = await runWorker(
          request('query', [repo(signedServer, trusted, { baseurls: [signedServer.url, good.url] })]),
        );
        expect(failover.exitCode).toBe(0);
        expect(good.requests.some((r) => r.path.includes('primary'))).toBe(true);
      } finally {
        await good.close();
      }
    } finally {
      signedServer.setFaults([]);
    }
  });

  it('checks repomd.xml against a metalink and skips a stale mirror', async () => {
    const repomd = await readFile(path.join(work, 'signed/repodata/repomd.xml'));
    const digest = createHash('sha256').update(repomd).digest('hex');
    const metalink = `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <size>${repomd.length}</size>
   <verification><hash type="sha256">${digest}</hash></verification>
   <resources maxconnections="1">
    <url protocol="http" type="http" location="XX" preference="100">${unsignedServer.url}/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="XX" preference="90">${signedServer.url}/repodata/repomd.xml</url>
   </resources>
  </file>
 </files>
</metalink>
`;
    await writeFile(path.join(work, 'unsigned/metalink.xml'), metalink);
    const run = await runWorker(
      request('query', [
        repo(signedServer, trusted, { baseurls: [], metalink: `${unsignedServer.url}/metalink.xml` }),
      ]),
    );
    expect(run.exitCode).toBe(0);
    expect(
      json<{ packages: unknown[] }>(run.frames.find((f) => f.type === 'QUERY_RESULT')!).packages,
    ).toHaveLength(2);
  });
});

describe('repository sources', () => {
  it('reads a mirrorlist and fails over past a broken mirror', async () => {
    await writeFile(
      path.join(work, 'unsigned/mirrorlist.txt'),
      `# mirrors\n${brokenMirror.url}/\nnot a url\n${signedServer.url}/\n`,
    );
    const run = await runWorker(
      request('query', [
        repo(signedServer, trusted, { baseurls: [], mirrorlist: `${unsignedServer.url}/mirrorlist.txt` }),
      ]),
    );
    expect(run.exitCode).toBe(0);
    expect(
      json<{ packages: unknown[] }>(run.frames.find((f) => f.type === 'QUERY_RESULT')!).packages,
    ).toHaveLength(2);
  });

  it('uses the repository sslcacert for https, and refuses the server without it', async () => {
    const tls = await startRepoServer({ root: path.join(work, 'signed'), https: true });
    try {
      const sslcacert = await readFile(tls.caCertPath!, 'utf8');
      const ok = await runWorker(request('query', [repo(tls, trusted, { sslcacert })]));
      expect(ok.exitCode).toBe(0);
      const refused = await runWorker(request('query', [repo(tls, trusted)]));
      expect(errorOf(refused).code).toBe('http.tls');
    } finally {
      await tls.close();
    }
  });
});

describe('op fetch', () => {
  it('sends exactly the allowed files, byte-identical to rpm2cpio, after a mirror failover', async () => {
    brokenMirror.requests.length = 0;
    const run = await runWorker(
      request('fetch', [repo(signedServer, trusted, { baseurls: [brokenMirror.url, signedServer.url] })], {
        package: GOOD_REF,
      }),
      [],
      'process',
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const rpm = await readFile(goodRpm);
    const head = run.frames.find((f) => f.type === 'HEAD')!;
    const parsed = parsePackageHead(rpm);
    expect(Buffer.from(head.payload).equals(rpm.subarray(0, parsed.payloadOffset))).toBe(true);
    const metadata = json<{ files: { path: string; size: number }[]; repoid: string }>(
      run.frames.find((f) => f.type === 'METADATA')!,
    );
    expect(metadata.repoid).toBe('fixture-repo');
    expect(metadata.files.map((f) => f.path).sort()).toEqual([...ALLOWED].sort());
    const files = filesOf(run);
    expect([...files.keys()]).toEqual(metadata.files.map((f) => f.path));
    for (const p of ALLOWED) expect(files.get(p)!.equals(extracted.get(p)!), p).toBe(true);
    const end = json<{ files: number; bytes: number }>(run.frames.at(-1)!);
    expect(end.files).toBe(ALLOWED.length);
    expect(run.frames.some((f) => f.type === 'PROGRESS')).toBe(true);
    expect(brokenMirror.requests.length).toBeGreaterThan(0);
  });

  it('honours allowedFiles', async () => {
    const run = await runWorker(
      request('fetch', [repo(signedServer, trusted)], { package: GOOD_REF, allowedFiles: ['template.conf'] }),
    );
    expect(run.exitCode).toBe(0);
    expect([...filesOf(run).keys()]).toEqual([`${DIR}/template.conf`]);
  });

  it('refuses a package signed by an unknown key before it sends HEAD', async () => {
    const run = await runWorker(
      request('fetch', [repo(signedServer, trusted)], { package: STRANGER_REF }),
      [],
      'process',
    );
    expect(errorOf(run).code).toBe('signature.untrusted-key');
    expect(run.frames.some((f) => f.type === 'HEAD')).toBe(false);
  });

  it('reports a package that is not in the repository', async () => {
    const run = await runWorker(
      request('fetch', [repo(signedServer, trusted)], { package: { ...GOOD_REF, version: '9.9' } }),
    );
    expect(errorOf(run).code).toBe('worker.not-found');
  });

  it('refuses a malformed request with ERROR and a schema message', async () => {
    const run = await runWorker({
      ...request('fetch', [repo(signedServer, trusted)]),
      package: { ...GOOD_REF, name: '../x' },
    });
    const error = errorOf(run);
    expect(error.code).toBe('message.schema');
    expect(error.message).toContain('package.name');
  });
});

describe('hostile input', () => {
  it('refuses a package whose bytes a mirror corrupted, even though the head verifies', async () => {
    const rpm = await readFile(goodRpm);
    const name = path.basename(goodRpm);
    brokenMirror.setFaults([{ path: `/${name}`, fault: { kind: 'corrupt', offset: rpm.length - 2000 } }]);
    try {
      const run = await runWorker(
        request('fetch', [repo(signedServer, trusted, { baseurls: [brokenMirror.url] })], {
          package: GOOD_REF,
        }),
      );
      expect(run.frames.some((f) => f.type === 'HEAD')).toBe(true);
      // Three checks guard these bytes; which fires first depends on how far the decompressor
      // read ahead of the file it is emitting. Each one refuses the package.
      expect(['worker.package-checksum', 'digest.file-mismatch', 'digest.payload-mismatch']).toContain(
        errorOf(run).code,
      );
    } finally {
      brokenMirror.setFaults([{ path: '/**', fault: { kind: 'status', status: 500 } }]);
    }
  });

  it('resumes the package download after the mirror drops the connection', async () => {
    const name = path.basename(goodRpm);
    signedServer.setFaults([{ path: `/${name}`, fault: { kind: 'reset', afterBytes: 150_000 }, times: 1 }]);
    signedServer.requests.length = 0;
    try {
      const run = await runWorker(request('fetch', [repo(signedServer, trusted)], { package: GOOD_REF }));
      expect(run.exitCode).toBe(0);
      const files = filesOf(run);
      for (const p of ALLOWED) expect(files.get(p)!.equals(extracted.get(p)!), p).toBe(true);
      const ranges = signedServer.requests.filter((r) => r.path === `/${name}`).map((r) => r.range);
      expect(ranges).toHaveLength(2);
      // A reset discards what was in flight: the resume starts at what actually arrived.
      const resumedAt = Number(/^bytes=(\d+)-/.exec(ranges[1]!)![1]);
      expect(resumedAt).toBeGreaterThan(0);
      expect(resumedAt).toBeLessThanOrEqual(150_000);
    } finally {
      signedServer.setFaults([]);
    }
  });

  it('answers bytes that are not frames with ERROR frame.type', async () => {
    const chunks: Buffer[] = [];
    const output = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    const exitCode = await runWorkerInline({
      input: [Buffer.from('GET / HTTP/1.1\r\n\r\n')],
      output,
      logger: pino({ level: 'silent' }),
    });
    expect(exitCode).toBe(1);
    const frames: Frame[] = [];
    for await (const frame of decodeFrames([Buffer.concat(chunks)])) frames.push(frame);
    expect(frames.map((f) => f.type)).toEqual(['HELLO', 'ERROR']);
    expect(json<{ code: string }>(frames[1]!).code).toBe('frame.type');
  });

  it('refuses a second REQUEST in place of package data', async () => {
    const unpackRepo: RepoConfig = {
      id: 'local',
      baseurls: [],
      gpgcheck: true,
      repoGpgcheck: false,
      keys: [trusted.publicKeyArmored],
    };
    const again = encodeRequest(request('unpack', [unpackRepo]));
    const run = await runWorker(request('unpack', [unpackRepo]), [again]);
    expect(errorOf(run).code).toBe('worker.input');
  });
});

describe('op unpack', () => {
  it('unpacks the .rpm sent on stdin in PACKAGE_DATA frames', async () => {
    const rpm = await readFile(goodRpm);
    const unpackRepo: RepoConfig = {
      id: 'local',
      baseurls: [],
      gpgcheck: true,
      repoGpgcheck: false,
      keys: [trusted.publicKeyArmored],
    };
    const run = await runWorker(
      request('unpack', [unpackRepo]),
      [...encodeDataFrames('PACKAGE_DATA', rpm)],
      'process',
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const files = filesOf(run);
    expect([...files.keys()].sort()).toEqual([...ALLOWED].sort());
    for (const p of ALLOWED) expect(files.get(p)!.equals(extracted.get(p)!), p).toBe(true);
    expect(json<{ repoid: string | null }>(run.frames.find((f) => f.type === 'METADATA')!).repoid).toBeNull();
  });

  it('refuses an unknown signer on stdin too', async () => {
    const rpm = await readFile(strangerRpm);
    const unpackRepo: RepoConfig = {
      id: 'local',
      baseurls: [],
      gpgcheck: true,
      repoGpgcheck: false,
      keys: [trusted.publicKeyArmored],
    };
    const run = await runWorker(request('unpack', [unpackRepo]), [...encodeDataFrames('PACKAGE_DATA', rpm)]);
    expect(errorOf(run).code).toBe('signature.untrusted-key');
  });
});

describe('ops header and download', () => {
  it('header sends the head only, fetched with a Range request', async () => {
    signedServer.requests.length = 0;
    const run = await runWorker(request('header', [repo(signedServer, trusted)], { package: GOOD_REF }));
    expect(run.exitCode, run.stderr).toBe(0);
    const rpm = await readFile(goodRpm);
    const { payloadOffset } = parsePackageHead(rpm);
    expect(
      Buffer.from(run.frames.find((f) => f.type === 'HEAD')!.payload).equals(rpm.subarray(0, payloadOffset)),
    ).toBe(true);
    // The fixture's head fits in the first probe; the package is bigger than the probe.
    expect(rpm.length).toBeGreaterThan(HEAD_PROBE_BYTES);
    expect(signedServer.requests.filter((r) => r.path.endsWith('.rpm')).map((r) => r.range)).toEqual([
      `bytes=0-${HEAD_PROBE_BYTES - 1}`,
    ]);
  });

  for (const resumeFrom of [0, 1000]) {
    it(`download sends HEAD and the raw payload from byte ${resumeFrom}`, async () => {
      const run = await runWorker(
        request('download', [repo(signedServer, trusted)], {
          package: GOOD_REF,
          ...(resumeFrom > 0 ? { resumeFrom } : {}),
        }),
      );
      expect(run.exitCode, run.stderr).toBe(0);
      const rpm = await readFile(goodRpm);
      const { payloadOffset } = parsePackageHead(rpm);
      const payload = Buffer.concat(
        run.frames.filter((f) => f.type === 'PAYLOAD_DATA').map((f) => Buffer.from(f.payload)),
      );
      expect(payload.equals(rpm.subarray(payloadOffset + resumeFrom))).toBe(true);
    });
  }
});

/**
 * A session of several requests on one input (protocol/request-sequence.ts), as the real
 * process reads them: the output cut into replies at each END or ERROR, each reply checked
 * against its own op's frame order.
 */
async function runSession(
  requests: readonly WorkerRequest[],
): Promise<{ exitCode: number; replies: Frame[][] }> {
  const input = Buffer.concat(requests.map((r) => safeEncode(r)));
  const result = await execa('node', [WORKER], {
    input,
    encoding: 'buffer',
    reject: false,
    env: { TMPL_WORKER_LOG_LEVEL: 'warn' },
  });
  const replies: Frame[][] = [[]];
  for await (const frame of decodeFrames([Buffer.from(result.stdout)])) {
    replies.at(-1)!.push(frame);
    if (frame.type === 'END' || frame.type === 'ERROR') replies.push([]);
  }
  expect(replies.pop()).toEqual([]);
  for (const [i, reply] of replies.entries()) {
    const sequence = new FrameSequence(requests[i]!.op);
    for (const frame of reply) sequence.accept(frame.type);
    sequence.finish();
  }
  return { exitCode: result.exitCode ?? -1, replies };
}

describe('a session of requests', () => {
  it('answers a query, then fetches a package with the metadata the query loaded', async () => {
    const before = signedServer.requests.length;
    const run = await runSession([
      request('query', [repo(signedServer, trusted)]),
      request('fetch', [repo(signedServer, trusted)], { package: GOOD_REF }),
    ]);
    expect(run.exitCode).toBe(0);
    expect(
      run.replies.map((r) => r.map((f) => f.type).filter((t) => t !== 'PROGRESS' && t !== 'FILE_DATA')[0]),
    ).toEqual(['HELLO', 'HELLO']);
    expect(json<{ requests: number }>(run.replies[0]![0]!).requests).toBe(2);
    const files = filesOf({ exitCode: 0, frames: run.replies[1]!, stderr: '' });
    for (const p of ALLOWED) expect(files.get(p)!.equals(extracted.get(p)!), p).toBe(true);
    const repomd = signedServer.requests.slice(before).filter((r) => r.path.endsWith('/repomd.xml'));
    expect(repomd).toHaveLength(1);
  });

  it('refuses a second query with ERROR message.sequence after a HELLO', async () => {
    const query = request('query', [repo(signedServer, trusted)]);
    const run = await runSession([query, query]);
    expect(run.exitCode).toBe(1);
    expect(run.replies[1]!.map((f) => f.type)).toEqual(['HELLO', 'ERROR']);
    expect(json<{ code: string }>(run.replies[1]![1]!).code).toBe('message.sequence');
  });

  it('refuses unpack after a query', async () => {
    const unpack = request('unpack', [{ ...repo(signedServer, trusted), id: 'local', baseurls: [] }]);
    const run = await runSession([request('query', [repo(signedServer, trusted)]), unpack]);
    expect(run.exitCode).toBe(1);
    expect(json<{ code: string }>(run.replies[1]!.at(-1)!).code).toBe('message.sequence');
  });

  it('ends the session after one package: a further request is never read', async () => {
    const header = request('header', [repo(signedServer, trusted)], { package: GOOD_REF });
    const run = await runSession([header, header]);
    expect(run.exitCode).toBe(0);
    expect(run.replies).toHaveLength(1);
    expect(run.replies[0]!.at(-1)!.type).toBe('END');
  });

  it('refuses a frame other than REQUEST between requests', async () => {
    const query = request('query', [repo(signedServer, trusted)]);
    const data = [...encodeDataFrames('PACKAGE_DATA', new Uint8Array(10))];
    const result = await execa('node', [WORKER], {
      input: Buffer.concat([safeEncode(query), ...data]),
      encoding: 'buffer',
      reject: false,
      env: { TMPL_WORKER_LOG_LEVEL: 'warn' },
    });
    const frames: Frame[] = [];
    for await (const frame of decodeFrames([Buffer.from(result.stdout)])) frames.push(frame);
    expect(result.exitCode).toBe(1);
    expect(frames.slice(-2).map((f) => f.type)).toEqual(['HELLO', 'ERROR']);
    expect(json<{ code: string }>(frames.at(-1)!).code).toBe('worker.input');
  });
});
