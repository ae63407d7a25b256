import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteReader } from '../../protocol/byte-reader.ts';
import { downloadHead, HEAD_PROBE_BYTES, type ResolvedPackage } from '../../dispvm-worker/ops-package.ts';
import type { PrimaryPackage } from '../../dispvm-worker/primary.ts';
import type { LoadedRepository } from '../../dispvm-worker/repo-client.ts';
import { startRepoServer, type RepoServer } from '../../sim/repo-server/index.ts';

let dir: string;
let server: RepoServer;
const data = randomBytes(HEAD_PROBE_BYTES + 50_000);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-ops-package-'));
  await writeFile(path.join(dir, 'p.rpm'), data);
  server = await startRepoServer({ root: dir });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function resolved(): ResolvedPackage {
  const repo = {
    config: { id: 'r', baseurls: [], gpgcheck: true, repoGpgcheck: false, keys: [] },
  } as unknown as LoadedRepository;
  const pkg = { downloadsize: data.length } as PrimaryPackage;
  return { repo, pkg, urls: [`${server.url}/p.rpm`] };
}

const ctx = { releasever: '4.2', http: {}, logger: pino({ level: 'silent' }) };

describe('downloadHead', () => {
  it('asks for the probe only when the reader needs no more', async () => {
    server.requests.length = 0;
    const source = downloadHead(resolved(), ctx);
    const reader = new ByteReader(source);
    expect(Buffer.from(await reader.readExact(1000)).equals(data.subarray(0, 1000))).toBe(true);
    await source.return(undefined);
    expect(server.requests.map((r) => r.range)).toEqual([`bytes=0-${HEAD_PROBE_BYTES - 1}`]);
  });

  it('fetches on past the probe with a second Range request, never past the package', async () => {
    server.requests.length = 0;
    const source = downloadHead(resolved(), ctx);
    const reader = new ByteReader(source);
    const want = HEAD_PROBE_BYTES + 10_000;
    expect(Buffer.from(await reader.readExact(want)).equals(data.subarray(0, want))).toBe(true);
    await source.return(undefined);
    expect(server.requests.map((r) => r.range)).toEqual([
      `bytes=0-${HEAD_PROBE_BYTES - 1}`,
      `bytes=${HEAD_PROBE_BYTES}-${data.length - 1}`,
    ]);
  });
});
