/**
 * The built worker (dist/tmpl-worker.mjs) copied alone into a scratch directory: no
 * node_modules above it, so neither native addon (zstd-napi, lzma-native) can load, as in a
 * template where tmpl-worker was installed without them. It still starts and lists (HELLO, not
 * a silent stream), decompresses zstd repository metadata and payloads with the zstd command,
 * and when the command is missing too it ends with ERROR `worker.missing-dependency` naming the
 * module and the command. Real processes, real frames, a forged signed repository served on
 * 127.0.0.1.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, encodeDataFrames, type Frame, type WorkerOp } from '../../protocol/frames.ts';
import { decodeJsonFrame, encodeRequest, type RepoConfig } from '../../protocol/messages.ts';
import {
  forgeRepository,
  forgeTemplate,
  generateSigningKey,
  type SigningKey,
} from '../../sim/forge/index.ts';
import { startRepoServer, type RepoServer } from '../../sim/repo-server/index.ts';

const MiB = 1024 * 1024;
const BUNDLE = path.resolve(import.meta.dirname, '../../dist/tmpl-worker.mjs');

let work: string;
let worker: string;
/** A PATH directory holding only `node`: no zstd, xz or bzip2 command. */
let nodeOnly: string;
let key: SigningKey;
let server: RepoServer;
let rpm: Buffer;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'tmpl-missing-addon-'));
  worker = path.join(work, 'lib/bin/tmpl-worker.mjs');
  mkdirSync(path.dirname(worker), { recursive: true });
  copyFileSync(BUNDLE, worker);
  nodeOnly = path.join(work, 'node-only');
  mkdirSync(nodeOnly);
  symlinkSync(process.execPath, path.join(nodeOnly, 'node'));
  key = await generateSigningKey('Missing Addon');
  const repoDir = path.join(work, 'repo');
  const forged = await forgeTemplate({
    name: 'fedora-addon',
    version: '4.3.0',
    release: '1',
    image: { size: 2 * MiB, extents: [{ offset: 0, length: MiB, seed: 'addon' }] },
    compressor: 'zstd',
    partSize: MiB,
    signingKey: key,
    outDir: repoDir,
    tempDir: work,
  });
  rpm = readFileSync(forged.path);
  await forgeRepository({
    dir: repoDir,
    packages: [forged.path],
    signingKey: key,
    primaryCompression: 'zst',
  });
  server = await startRepoServer({ root: repoDir });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs the lone bundle with `PATH`, one request (and the package for unpack); returns its frames. */
async function runLoneWorker(
  op: WorkerOp,
  repo: RepoConfig,
  pathDirs: readonly string[],
): Promise<{ exitCode: number; frames: Frame[]; stderr: string }> {
  const input = Buffer.concat([
    encodeRequest({ protocol: 1, op, releasever: '4.2', repos: [repo] }),
    ...(op === 'unpack' ? encodeDataFrames('PACKAGE_DATA', rpm) : []),
  ]);
  const result = await execa(process.execPath, [worker], {
    input,
    encoding: 'buffer',
    reject: false,
    cwd: work,
    env: { PATH: pathDirs.join(':'), TMPL_WORKER_LOG_LEVEL: 'warn' },
    extendEnv: false,
  });
  const frames: Frame[] = [];
  for await (const frame of decodeFrames([Buffer.from(result.stdout)])) frames.push(frame);
  return { exitCode: result.exitCode ?? -1, frames, stderr: Buffer.from(result.stderr).toString('utf8') };
}

const served = (): RepoConfig => ({
  id: 'addon',
  baseurls: [`${server.url}/`],
  gpgcheck: true,
  repoGpgcheck: true,
  keys: [key.publicKeyArmored],
});
const local = (): RepoConfig => ({
  id: 'local',
  baseurls: [],
  gpgcheck: true,
  repoGpgcheck: false,
  keys: [key.publicKeyArmored],
});

function expectMissingDependency(run: { exitCode: number; frames: Frame[]; stderr: string }): void {
  expect(run.frames[0]?.type, run.stderr).toBe('HELLO');
  const last = run.frames.at(-1)!;
  expect(last.type, run.stderr).toBe('ERROR');
  const error = decodeJsonFrame(last, 'ERROR');
  expect(error.code).toBe('worker.missing-dependency');
  expect(error.message).toContain('the module zstd-napi/binding');
  expect(error.message).toContain('the command zstd (not on PATH)');
  expect(run.exitCode).toBe(1);
}

describe('the worker bundle without its native addons', () => {
  it('zstd repository metadata: the zstd command stands in and the query answers', async () => {
    const run = await runLoneWorker('query', served(), [nodeOnly, '/usr/bin', '/bin']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = decodeJsonFrame(
      run.frames.find((f) => f.type === 'QUERY_RESULT')!,
      'QUERY_RESULT',
    ) as {
      packages: { name: string }[];
    };
    expect(result.packages.map((p) => p.name)).toEqual(['qubes-template-fedora-addon']);
  });

  it('zstd repository metadata without the zstd command: ERROR worker.missing-dependency', async () => {
    expectMissingDependency(await runLoneWorker('query', served(), [nodeOnly]));
  });

  it('a zstd payload: the zstd command stands in and the files are sent', async () => {
    const run = await runLoneWorker('unpack', local(), [nodeOnly, '/usr/bin', '/bin']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.frames.filter((f) => f.type === 'FILE_BEGIN').length).toBeGreaterThan(0);
    expect(run.frames.at(-1)!.type).toBe('END');
  });

  it('a zstd payload without the zstd command: ERROR worker.missing-dependency, no file sent', async () => {
    const run = await runLoneWorker('unpack', local(), [nodeOnly]);
    expectMissingDependency(run);
    expect(run.frames.filter((f) => f.type === 'FILE_BEGIN')).toEqual([]);
  });
});
