import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../dispvm-worker/errors.ts';
import { fetchBytes, fetchStream, type HttpFetchOptions } from '../../dispvm-worker/http-fetch.ts';
import { startRepoServer, type RepoServer } from '../../sim/repo-server/index.ts';

/** Short limits so failure cases take a fraction of a second. */
const FAST: HttpFetchOptions = {
  connectTimeoutMs: 2000,
  idleTimeoutMs: 400,
  lowSpeedLimit: 1,
  lowSpeedTimeMs: 10_000,
  retryDelayMs: 10,
};

const SIZE = 600_000;
let dir: string;
let data: Uint8Array;
let a: RepoServer;
let b: RepoServer;
let tls: RepoServer;

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function failure(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error('transfer succeeded');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-http-fetch-'));
  data = randomBytes(SIZE);
  await writeFile(path.join(dir, 'file.bin'), data);
  [a, b, tls] = await Promise.all([
    startRepoServer({ root: dir }),
    startRepoServer({ root: dir }),
    startRepoServer({ root: dir, https: true }),
  ]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), tls?.close()]);
  await rm(dir, { recursive: true, force: true });
});

function reset(): void {
  for (const server of [a, b, tls]) {
    server.setFaults([]);
    server.requests.length = 0;
  }
}

describe('fetchStream', () => {
  it('fetches a whole file', async () => {
    reset();
    const got = await fetchBytes({ urls: [`${a.url}/file.bin`], maxBytes: SIZE }, FAST);
    expect(sha(got)).toBe(sha(data));
    expect(a.requests.map((r) => r.range)).toEqual([null]);
  });

  it('resumes with Range after a truncated body and after a reset', async () => {
    for (const kind of ['truncate', 'reset'] as const) {
      reset();
      a.setFaults([{ path: '/file.bin', fault: { kind, afterBytes: 100_000 }, times: 2 }]);
      const got = await fetchBytes({ urls: [`${a.url}/file.bin`], length: SIZE, maxBytes: SIZE }, FAST);
      expect(sha(got), kind).toBe(sha(data));
      expect(
        a.requests.map((r) => r.range),
        kind,
      ).toEqual(['bytes=0-599999', 'bytes=100000-599999', 'bytes=200000-599999']);
    }
  });

  it('resumes a close-delimited short body when the length is known', async () => {
    reset();
    a.setFaults([{ path: '/file.bin', fault: { kind: 'truncate', afterBytes: 1000 }, times: 1 }]);
    const got = await fetchBytes({ urls: [`${a.url}/file.bin`], length: SIZE, maxBytes: SIZE }, FAST);
    expect(sha(got)).toBe(sha(data));
  });

  it('gives up on a mirror that keeps dropping the connection without progress', async () => {
    reset();
    a.setFaults([{ path: '/file.bin', fault: { kind: 'reset', afterBytes: 0 } }]);
    const error = await failure(
      fetchBytes({ urls: [`${a.url}/file.bin`], maxBytes: SIZE }, { ...FAST, attemptsPerMirror: 3 }),
    );
    expect(error.code).toBe('http.connection');
    expect(a.requests).toHaveLength(3);
  });

  for (const status of [404, 500]) {
    it(`fails over to the second mirror on ${status}`, async () => {
      reset();
      a.setFaults([{ path: '/file.bin', fault: { kind: 'status', status } }]);
      const got = await fetchBytes(
        { urls: [`${a.url}/file.bin`, `${b.url}/file.bin`], maxBytes: SIZE },
        FAST,
      );
      expect(sha(got)).toBe(sha(data));
      expect(a.requests).toHaveLength(1);
      expect(b.requests).toHaveLength(1);
    });
  }

  it('fails over on a stall and the second mirror resumes at the same byte', async () => {
    reset();
    a.setFaults([{ path: '/file.bin', fault: { kind: 'stall', afterBytes: 200_000 } }]);
    const started = performance.now();
    const got = await fetchBytes(
      { urls: [`${a.url}/file.bin`, `${b.url}/file.bin`], length: SIZE, maxBytes: SIZE },
      FAST,
    );
    expect(sha(got)).toBe(sha(data));
    expect(b.requests.map((r) => r.range)).toEqual(['bytes=200000-599999']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(FAST.idleTimeoutMs! - 50);
  });

  it('times out a stalled only mirror with http.idle-timeout', async () => {
    reset();
    a.setFaults([{ path: '/file.bin', fault: { kind: 'stall', afterBytes: 1000 } }]);
    const error = await failure(fetchBytes({ urls: [`${a.url}/file.bin`], maxBytes: SIZE }, FAST));
    expect(error.code).toBe('http.idle-timeout');
    expect(error.message).toContain(a.url);
  });

  it('refuses endless data at the cap with http.too-large', async () => {
    reset();
    a.setFaults([{ path: '/file.bin', fault: { kind: 'endless' } }]);
    const error = await failure(fetchBytes({ urls: [`${a.url}/file.bin`], maxBytes: SIZE + 10 }, FAST));
    expect(error.code).toBe('http.too-large');
    // The transfer stopped near the cap instead of reading on.
    expect(a.requests[0]!.bytesSent).toBeLessThan(SIZE + 10 + 4 * 1024 * 1024);
  });

  it('stops at the known length even when the body goes on', async () => {
    reset();
    a.setFaults([{ path: '/file.bin', fault: { kind: 'endless' } }]);
    const got = await fetchBytes({ urls: [`${a.url}/file.bin`], length: 1000, maxBytes: 1000 }, FAST);
    expect(sha(got)).toBe(sha(data.subarray(0, 1000)));
  });

  it('aborts a mirror below the low-speed limit with http.too-slow', async () => {
    reset();
    a.setFaults([{ path: '/file.bin', fault: { kind: 'slow', bytesPerSecond: 2000 } }]);
    const error = await failure(
      fetchBytes(
        { urls: [`${a.url}/file.bin`], maxBytes: SIZE },
        { ...FAST, lowSpeedLimit: 50_000, lowSpeedTimeMs: 300 },
      ),
    );
    expect(error.code).toBe('http.too-slow');
  });

  it('does not count a slow consumer against the mirror', async () => {
    reset();
    let chunks = 0;
    const hash = createHash('sha256');
    for await (const chunk of fetchStream(
      { urls: [`${a.url}/file.bin`], maxBytes: SIZE },
      { ...FAST, lowSpeedLimit: 1_000_000, lowSpeedTimeMs: 200, idleTimeoutMs: 200 },
    )) {
      hash.update(chunk);
      if (chunks++ < 4) await sleep(120);
    }
    expect(hash.digest('hex')).toBe(sha(data));
  });

  it('fetches a byte range (the package head) with one Range request', async () => {
    reset();
    const got = await fetchBytes(
      { urls: [`${a.url}/file.bin`], offset: 96, length: 4000, maxBytes: 4000 },
      FAST,
    );
    expect(sha(got)).toBe(sha(data.subarray(96, 4096)));
    expect(a.requests.map((r) => [r.range, r.status])).toEqual([['bytes=96-4095', 206]]);
  });

  it('follows redirects, and refuses a redirect loop', async () => {
    reset();
    a.setFaults([{ path: '/moved.bin', fault: { kind: 'redirect', location: `${b.url}/file.bin` } }]);
    const got = await fetchBytes({ urls: [`${a.url}/moved.bin`], maxBytes: SIZE }, FAST);
    expect(sha(got)).toBe(sha(data));
    a.setFaults([{ path: '/loop', fault: { kind: 'redirect', location: '/loop' } }]);
    const error = await failure(fetchBytes({ urls: [`${a.url}/loop`], maxBytes: SIZE }, FAST));
    expect(error.code).toBe('http.redirect');
  });

  it('uses the repository CA for https and refuses the server without it', async () => {
    reset();
    const ca = await readFile(tls.caCertPath!, 'utf8');
    const got = await fetchBytes({ urls: [`${tls.url}/file.bin`], maxBytes: SIZE }, { ...FAST, ca });
    expect(sha(got)).toBe(sha(data));
    const error = await failure(fetchBytes({ urls: [`${tls.url}/file.bin`], maxBytes: SIZE }, FAST));
    expect(error.code).toBe('http.tls');
  });

  it('asks nothing for zero bytes', async () => {
    reset();
    expect(
      await fetchBytes({ urls: [`${a.url}/file.bin`], offset: 10, length: 0, maxBytes: 0 }, FAST),
    ).toHaveLength(0);
    expect(a.requests).toHaveLength(0);
  });

  it('refuses URLs that are not http(s)', async () => {
    const error = await failure(fetchBytes({ urls: ['file:///etc/passwd'], maxBytes: 10 }, FAST));
    expect(error.code).toBe('http.url');
  });

  it('skips already-received bytes when a server ignores Range', async () => {
    // A server without Range support that cuts the first response short.
    let calls = 0;
    const server = http.createServer((_req, res) => {
      calls++;
      res.writeHead(200, { 'content-length': SIZE });
      if (calls === 1) {
        res.write(data.subarray(0, 123_457), () => res.socket?.destroy());
      } else {
        res.end(data);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      const got = await fetchBytes({ urls: [url], length: SIZE, maxBytes: SIZE }, FAST);
      expect(sha(got)).toBe(sha(data));
      expect(calls).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('times out a server that never answers with http.connect-timeout', async () => {
    const server = http.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      const error = await failure(
        fetchBytes({ urls: [url], maxBytes: 10 }, { ...FAST, connectTimeoutMs: 300 }),
      );
      expect(error.code).toBe('http.connect-timeout');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
