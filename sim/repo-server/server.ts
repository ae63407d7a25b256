/**
 * A static file server for package repositories on 127.0.0.1, with HTTP Range and HEAD, and
 * per-path fault injection so tests can play slow, broken or hostile mirrors (two servers, two
 * mirrors, each with its own faults).
 *
 * Over 300 lines: the file server and its per-path faults act on the same request handling.
 */
import { createReadStream } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerRange } from './byte-range.ts';
import { makeTestCertificates } from './certificates.ts';
import { FaultTable, type Fault, type FaultRule } from './faults.ts';

export interface RepoServerOptions {
  /** Directory served at the URL root. */
  readonly root: string;
  /** `true` makes a throwaway CA and certificate; or pass your own PEM files. */
  readonly https?:
    true | { readonly certPath: string; readonly keyPath: string; readonly caCertPath?: string };
  readonly faults?: readonly FaultRule[];
  /** 0 (default) picks a free port. */
  readonly port?: number;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly range: string | null;
  status: number;
  readonly fault: Fault['kind'] | null;
  /** Body bytes written to the socket. */
  bytesSent: number;
}

export interface RepoServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  readonly caCertPath?: string;
  readonly requests: RequestRecord[];
  setFaults(rules: readonly FaultRule[]): void;
  close(): Promise<void>;
}

/** Body chunk size for throttled and fault-limited sends. */
const CHUNK = 64 * 1024;
/** Throttle tick: a slow body is sent in pieces every TICK_MS. */
const TICK_MS = 50;

const CONTENT_TYPES: Record<string, string> = {
  '.xml': 'application/xml',
  '.asc': 'text/plain',
  '.rpm': 'application/x-rpm',
  '.metalink': 'application/metalink+xml',
};

/** Maps a URL path to a file below root, or null if it escapes or is malformed. */
function resolvePath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const full = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  return full === root || full.startsWith(root + path.sep) ? full : null;
}

async function* fileBytes(file: string, start: number, end: number): AsyncGenerator<Uint8Array> {
  if (end < start) return;
  yield* createReadStream(file, { start, end, highWaterMark: CHUNK }) as AsyncIterable<Uint8Array>;
}

/** Applies a 'corrupt' fault to a stream that starts at file offset `start`. */
async function* corrupt(
  source: AsyncIterable<Uint8Array>,
  start: number,
  fault: Extract<Fault, { kind: 'corrupt' }>,
): AsyncGenerator<Uint8Array> {
  const replacement = fault.bytes ?? Uint8Array.of(0x42 ^ 0xff);
  let at = start;
  for await (const chunk of source) {
    const lo = Math.max(at, fault.offset);
    const hi = Math.min(at + chunk.length, fault.offset + replacement.length);
    if (lo < hi) {
      const copy = new Uint8Array(chunk);
      for (let i = lo; i < hi; i++) {
        const original = copy[i - at]!;
        const wanted = replacement[i - fault.offset]!;
        // Guarantee a change even if the replacement happens to equal the original byte.
        copy[i - at] = wanted === original ? original ^ 0xff : wanted;
      }
      yield copy;
    } else {
      yield chunk;
    }
    at += chunk.length;
  }
}

function write(res: http.ServerResponse, chunk: Uint8Array): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('response destroyed'));
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      reject(new Error('response closed'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

async function sendBody(
  res: http.ServerResponse,
  body: AsyncIterable<Uint8Array>,
  fault: Fault | null,
  record: RequestRecord,
): Promise<void> {
  const limit =
    fault && (fault.kind === 'stall' || fault.kind === 'truncate' || fault.kind === 'reset')
      ? fault.afterBytes
      : Infinity;
  const rate = fault?.kind === 'slow' ? Math.max(1, fault.bytesPerSecond) : null;
  const piece = rate ? Math.max(1, Math.floor((rate * TICK_MS) / 1000)) : CHUNK;
  for await (const chunk of body) {
    for (let at = 0; at < chunk.length;) {
      const n = Math.min(piece, chunk.length - at, limit - record.bytesSent);
      if (n <= 0) break;
      await write(res, chunk.subarray(at, at + n));
      record.bytesSent += n;
      at += n;
      if (rate) await sleep(TICK_MS);
    }
    if (record.bytesSent >= limit) break;
  }
  if (fault && record.bytesSent >= limit) {
    const socket = res.socket;
    if (fault.kind === 'stall') return; // keep the socket open; close() tears it down
    // Flush what was written (a reset drops what is still queued in the process: on Node 22 the
    // client saw only the first 64 KiB), then end the TCP stream without finishing the HTTP body.
    await new Promise<void>((resolve) => {
      res.write('', () => resolve());
    });
    if (fault.kind === 'truncate') socket?.end();
    else socket?.resetAndDestroy();
    return;
  }
  res.end();
}

/** Endless chunked body: the file's bytes, then filler, until the client goes away. */
async function sendEndless(res: http.ServerResponse, file: string, record: RequestRecord): Promise<void> {
  const filler = new Uint8Array(CHUNK).fill(0x41);
  try {
    for await (const chunk of fileBytes(file, 0, Infinity)) {
      await write(res, chunk);
      record.bytesSent += chunk.length;
    }
    for (;;) {
      await write(res, filler);
      record.bytesSent += filler.length;
    }
  } catch {
    // the client closed the connection: the only way this body ends
  }
}

export async function startRepoServer(options: RepoServerOptions): Promise<RepoServer> {
  const root = path.resolve(options.root);
  const faults = new FaultTable(options.faults);
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();
  let ownCertDir: string | null = null;
  let caCertPath: string | undefined;

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else {
        res.destroy();
      }
    });
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const urlPath = (req.url ?? '/').split('?')[0]!;
    const fault = faults.take(urlPath);
    const record: RequestRecord = {
      method,
      path: urlPath,
      range: req.headers.range ?? null,
      status: 0,
      fault: fault?.kind ?? null,
      bytesSent: 0,
    };
    requests.push(record);
    const finish = (status: number, headers: Record<string, string | number> = {}, body = ''): void => {
      record.status = status;
      res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
      res.end(method === 'HEAD' ? undefined : body);
    };

    if (method !== 'GET' && method !== 'HEAD') return finish(405, { Allow: 'GET, HEAD' });
    if (fault?.kind === 'status')
      return finish(fault.status, { 'Content-Type': 'text/plain' }, `status ${fault.status}\n`);
    if (fault?.kind === 'redirect') {
      return finish(fault.status ?? 302, { Location: fault.location }, '');
    }
    const file = resolvePath(root, urlPath);
    const info = file ? await stat(file).catch(() => null) : null;
    if (!file || !info?.isFile()) return finish(404, { 'Content-Type': 'text/plain' }, 'not found\n');

    const size = info.size;
    const common = {
      'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Last-Modified': info.mtime.toUTCString(),
      'Accept-Ranges': 'bytes',
    };
    if (fault?.kind === 'endless') {
      record.status = 200;
      res.writeHead(200, { ...common, 'Transfer-Encoding': 'chunked' });
      if (method === 'HEAD') {
        res.end();
        return;
      }
      return sendEndless(res, file, record);
    }
    const range = answerRange(req.headers.range, size);
    if (range.kind === 'unsatisfiable') return finish(416, { 'Content-Range': `bytes */${size}` });
    const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
    record.status = range.kind === 'partial' ? 206 : 200;
    res.writeHead(record.status, {
      ...common,
      'Content-Length': end - start + 1,
      ...(range.kind === 'partial' ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (method === 'HEAD') {
      res.end();
      return;
    }
    let body: AsyncIterable<Uint8Array> = fileBytes(file, start, end);
    if (fault?.kind === 'corrupt') body = corrupt(body, start, fault);
    await sendBody(res, body, fault, record);
  }

  let server: http.Server | https.Server;
  if (options.https) {
    let tls: { certPath: string; keyPath: string; caCertPath?: string };
    if (options.https === true) {
      const made = await makeTestCertificates();
      ownCertDir = made.dir;
      tls = made;
    } else {
      tls = options.https;
    }
    caCertPath = tls.caCertPath;
    server = https.createServer(
      { cert: await readFile(tls.certPath), key: await readFile(tls.keyPath) },
      handler,
    );
  } else {
    server = http.createServer(handler);
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    url,
    port,
    ...(caCertPath !== undefined ? { caCertPath } : {}),
    requests,
    setFaults: (rules) => faults.set(rules),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      if (ownCertDir) await rm(ownCertDir, { recursive: true, force: true });
    },
  };
}
