import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { answerRange, globToRegExp, startRepoServer, type RepoServer } from '../../sim/repo-server/index.ts';

interface Fetched {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Error code if the transfer failed after (or before) the headers. */
  error: string | null;
  /** True if the body stopped arriving for idleMs without the response ending. */
  idle: boolean;
}

/** A bare node http(s) client: no redirects followed, no retries. */
function fetchRaw(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    maxBytes?: number;
    ca?: Buffer;
    idleMs?: number;
  } = {},
): Promise<Fetched> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    let result: Omit<Fetched, 'body'> = { status: 0, headers: {}, error: null, idle: false };
    let timer: NodeJS.Timeout | undefined;
    const done = (patch: Partial<Omit<Fetched, 'body'>> = {}): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result = { ...result, ...patch };
      resolve({ ...result, body: Buffer.concat(chunks) });
    };
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.request(url, {
      method: opts.method ?? 'GET',
      headers: opts.headers,
      ca: opts.ca,
      agent: false,
    });
    const arm = (): void => {
      clearTimeout(timer);
      if (opts.idleMs) {
        timer = setTimeout(() => {
          done({ idle: true });
          req.destroy();
        }, opts.idleMs);
      }
    };
    req.on('response', (res) => {
      result = { ...result, status: res.statusCode ?? 0, headers: res.headers };
      arm();
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        arm();
        if (opts.maxBytes !== undefined && received >= opts.maxBytes) {
          done();
          req.destroy();
        }
      });
      res.on('end', () => done());
      res.on('aborted', () => done({ error: 'aborted' }));
      res.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    req.end();
  });
}

let root: string;
let content: Buffer;
let server: RepoServer;
let mirror: RepoServer;
const FILE = '/repodata/repomd.xml';
const SIZE = 200_000;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'tmpl-repo-server-'));
  await mkdir(path.join(root, 'repodata'));
  content = randomBytes(SIZE);
  await writeFile(path.join(root, 'repodata', 'repomd.xml'), content);
  await writeFile(path.join(root, 'pkg.rpm'), content.subarray(0, 1000));
  await writeFile(path.join(root, '..', `${path.basename(root)}-secret`), 'secret');
  server = await startRepoServer({ root });
  mirror = await startRepoServer({ root });
});

afterAll(async () => {
  await server.close();
  await mirror.close();
  await rm(root, { recursive: true, force: true });
  await rm(path.join(root, '..', `${path.basename(root)}-secret`), { force: true });
});

afterEach(() => {
  server.setFaults([]);
  mirror.setFaults([]);
});

describe('static files', () => {
  it('serves a file with its Content-Length on 127.0.0.1', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetchRaw(server.url + FILE);
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(SIZE));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.body.equals(content)).toBe(true);
  });

  it('answers HEAD with the headers only', async () => {
    const r = await fetchRaw(server.url + FILE, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(SIZE));
    expect(r.body.length).toBe(0);
  });

  it('answers ranges with 206 and Content-Range, and unsatisfiable ones with 416', async () => {
    const mid = await fetchRaw(server.url + FILE, { headers: { Range: 'bytes=100-199' } });
    expect(mid.status).toBe(206);
    expect(mid.headers['content-range']).toBe(`bytes 100-199/${SIZE}`);
    expect(mid.body.equals(content.subarray(100, 200))).toBe(true);

    const open = await fetchRaw(server.url + FILE, { headers: { Range: `bytes=${SIZE - 10}-` } });
    expect(open.status).toBe(206);
    expect(open.body.equals(content.subarray(SIZE - 10))).toBe(true);

    const suffix = await fetchRaw(server.url + FILE, { headers: { Range: 'bytes=-5' } });
    expect(suffix.headers['content-range']).toBe(`bytes ${SIZE - 5}-${SIZE - 1}/${SIZE}`);
    expect(suffix.body.equals(content.subarray(SIZE - 5))).toBe(true);

    const beyond = await fetchRaw(server.url + FILE, { headers: { Range: `bytes=${SIZE}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${SIZE}`);
  });

  it('range arithmetic follows RFC 9110', () => {
    expect(answerRange('bytes=5-2', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(answerRange('bytes=0-100', 10)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(answerRange('bytes=0-1,3-4', 10)).toEqual({ kind: 'full' });
    expect(answerRange('bytes=-0', 10)).toEqual({ kind: 'unsatisfiable' });
  });

  it('refuses paths outside the root and missing files with 404', async () => {
    const escape = `/..%2f${path.basename(root)}-secret`;
    expect((await fetchRaw(server.url + escape)).status).toBe(404);
    expect((await fetchRaw(server.url + '/../' + `${path.basename(root)}-secret`)).status).toBe(404);
    expect((await fetchRaw(server.url + '/nope.rpm')).status).toBe(404);
    expect((await fetchRaw(server.url + '/repodata')).status).toBe(404);
  });

  it('logs requests', async () => {
    const before = server.requests.length;
    await fetchRaw(server.url + '/pkg.rpm', { headers: { Range: 'bytes=10-19' } });
    const rec = server.requests.at(-1)!;
    expect(server.requests.length).toBe(before + 1);
    expect(rec).toMatchObject({
      method: 'GET',
      path: '/pkg.rpm',
      range: 'bytes=10-19',
      status: 206,
      bytesSent: 10,
    });
  });
});

describe('faults', () => {
  it('globs match within and across path segments', () => {
    expect(globToRegExp('/repodata/*.xml').test('/repodata/repomd.xml')).toBe(true);
    expect(globToRegExp('/*.xml').test('/repodata/repomd.xml')).toBe(false);
    expect(globToRegExp('/**.xml').test('/repodata/repomd.xml')).toBe(true);
    expect(globToRegExp('/pkg.rp?').test('/pkg.rpm')).toBe(true);
  });

  it('slow: sends at the given rate', async () => {
    server.setFaults([{ path: '/pkg.rpm', fault: { kind: 'slow', bytesPerSecond: 4000 } }]);
    const t0 = Date.now();
    const r = await fetchRaw(server.url + '/pkg.rpm');
    const elapsed = Date.now() - t0;
    expect(r.body.equals(content.subarray(0, 1000))).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(200);
  });

  it('stall: sends N bytes then nothing, the connection stays open', async () => {
    server.setFaults([{ path: FILE, fault: { kind: 'stall', afterBytes: 1000 } }]);
    const r = await fetchRaw(server.url + FILE, { idleMs: 300 });
    expect(r.status).toBe(200);
    expect(r.idle).toBe(true);
    expect(r.error).toBeNull();
    expect(r.body.equals(content.subarray(0, 1000))).toBe(true);
  });

  it('truncate: closes the connection after N bytes of a longer declared body', async () => {
    server.setFaults([{ path: FILE, fault: { kind: 'truncate', afterBytes: 5000 } }]);
    const r = await fetchRaw(server.url + FILE);
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(SIZE));
    expect(r.error).not.toBeNull();
    expect(r.body.length).toBe(5000);
    expect(r.body.equals(content.subarray(0, 5000))).toBe(true);
  });

  it('reset: resets the connection mid-body', async () => {
    server.setFaults([{ path: FILE, fault: { kind: 'reset', afterBytes: 70_000 } }]);
    const r = await fetchRaw(server.url + FILE);
    expect(r.error).not.toBeNull();
    expect(r.body.length).toBeLessThanOrEqual(70_000);
    expect(content.subarray(0, r.body.length).equals(r.body)).toBe(true);
  });

  it('corrupt: wrong bytes at a file offset, also inside a range', async () => {
    server.setFaults([
      { path: FILE, fault: { kind: 'corrupt', offset: 150_000, bytes: Uint8Array.of(1, 2, 3) } },
    ]);
    const r = await fetchRaw(server.url + FILE);
    expect(r.body.length).toBe(SIZE);
    const diff = [...r.body.keys()].filter((i) => r.body[i] !== content[i]);
    expect(diff.length).toBeGreaterThan(0);
    expect(diff.every((i) => i >= 150_000 && i < 150_003)).toBe(true);
    const part = await fetchRaw(server.url + FILE, { headers: { Range: 'bytes=149990-150009' } });
    expect(part.status).toBe(206);
    expect(part.body.subarray(0, 10).equals(content.subarray(149_990, 150_000))).toBe(true);
    expect(part.body.subarray(10, 13).equals(content.subarray(150_000, 150_003))).toBe(false);
  });

  it('endless: keeps sending past the file size without a Content-Length', async () => {
    server.setFaults([{ path: FILE, fault: { kind: 'endless' } }]);
    const r = await fetchRaw(server.url + FILE, { maxBytes: SIZE + 1_000_000 });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.body.length).toBeGreaterThanOrEqual(SIZE + 1_000_000);
    expect(r.body.subarray(0, SIZE).equals(content)).toBe(true);
  });

  it('redirect: points at another server, which serves the file', async () => {
    server.setFaults([{ path: FILE, fault: { kind: 'redirect', location: mirror.url + FILE } }]);
    const r = await fetchRaw(server.url + FILE);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe(mirror.url + FILE);
    const followed = await fetchRaw(r.headers.location!);
    expect(followed.body.equals(content)).toBe(true);
  });

  it('status faults: 404 and 500, for a limited number of requests', async () => {
    server.setFaults([
      { path: '/pkg.rpm', fault: { kind: 'status', status: 500 }, times: 1 },
      { path: FILE, fault: { kind: 'status', status: 404 } },
    ]);
    expect((await fetchRaw(server.url + '/pkg.rpm')).status).toBe(500);
    expect((await fetchRaw(server.url + '/pkg.rpm')).status).toBe(200);
    expect((await fetchRaw(server.url + FILE)).status).toBe(404);
    expect(server.requests.at(-1)!.fault).toBe('status');
  });

  it('faults are scoped to one server: the other mirror stays healthy', async () => {
    server.setFaults([{ path: '/**', fault: { kind: 'status', status: 500 } }]);
    expect((await fetchRaw(server.url + FILE)).status).toBe(500);
    const ok = await fetchRaw(mirror.url + FILE);
    expect(ok.status).toBe(200);
    expect(ok.body.equals(content)).toBe(true);
  });
});

describe('https', () => {
  it('serves over TLS with a throwaway CA that clients must be given', async () => {
    const tls = await startRepoServer({ root, https: true });
    try {
      expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = await readFile(tls.caCertPath!);
      const r = await fetchRaw(tls.url + '/pkg.rpm', { ca });
      expect(r.status).toBe(200);
      expect(r.body.equals(content.subarray(0, 1000))).toBe(true);
      const untrusted = await fetchRaw(tls.url + '/pkg.rpm');
      expect(untrusted.status).toBe(0);
      expect(untrusted.error).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    } finally {
      await tls.close();
    }
  });
});
