/**
 * HTTP(S) downloads for the worker: mirror failover, Range resume after a dropped connection,
 * connect and idle timeouts, a low-speed limit and a hard size cap, all enforced while the bytes
 * flow. Bytes are yielded as they arrive; nothing is stored. The caller verifies what it got
 * (checksums from signed or hashed metadata); this module only bounds the transfer.
 *
 * Buffers: at most the socket's own read buffer; each chunk is handed on as soon as it arrives,
 * and the response is not read while the consumer is busy (backpressure reaches the server).
 *
 * Over 300 lines: failover, resume and every transfer limit act on the same response loop.
 */
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { HttpError, type HttpErrorCode } from './errors.ts';

/** Time to get response headers after the request starts (TCP, TLS, server think time). */
export const CONNECT_TIMEOUT_MS = 30_000;
/** Longest wait for the next body byte. */
export const IDLE_TIMEOUT_MS = 30_000;
/** Abort when the rate stays below this many bytes per second for LOW_SPEED_TIME_MS (dnf's minrate). */
export const LOW_SPEED_LIMIT_BYTES_PER_SECOND = 1000;
/** Window of the low-speed check (dnf's timeout). */
export const LOW_SPEED_TIME_MS = 30_000;
/** Redirects followed per request. */
export const MAX_REDIRECTS = 5;
/** Connections to one mirror when it drops or truncates the body; each one resumes with Range. */
export const MAX_ATTEMPTS_PER_MIRROR = 4;
/** Progress that earns a mirror a fresh set of attempts (so long transfers survive sporadic resets). */
export const MIN_PROGRESS_FOR_RETRY_RESET = 1024 * 1024;
/** Pause before a resume on the same mirror. */
export const RETRY_DELAY_MS = 200;

export interface HttpFetchOptions {
  readonly connectTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  readonly lowSpeedLimit?: number;
  readonly lowSpeedTimeMs?: number;
  readonly maxRedirects?: number;
  readonly attemptsPerMirror?: number;
  readonly retryDelayMs?: number;
  /** PEM CA bundle (the repository's sslcacert); replaces the system CAs, as curl --cacert does. */
  readonly ca?: string;
  /** sslverify; default true. */
  readonly verifyTls?: boolean;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

export interface FetchRequest {
  /** One URL per mirror, in order of preference; every one must serve the same bytes. */
  readonly urls: readonly string[];
  /** First byte wanted (Range resume, or a header fetch that starts later). Default 0. */
  readonly offset?: number;
  /** Exact number of bytes wanted from offset, when known: the transfer stops there, and a
   * shorter body is resumed. */
  readonly length?: number;
  /** Hard cap on the bytes taken from offset; more is an 'http.too-large' failure of the mirror. */
  readonly maxBytes: number;
}

/** Failures after which the same mirror is asked again, resuming where the bytes stopped. */
const RESUMABLE: ReadonlySet<HttpErrorCode> = new Set(['http.connection', 'http.truncated']);

const TLS_ERROR = /CERT|SSL|TLS|UNABLE_TO_(GET|VERIFY)|SELF_SIGNED|ALTNAME/;

interface Settings {
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly lowSpeedLimit: number;
  readonly lowSpeedTimeMs: number;
  readonly maxRedirects: number;
  readonly attemptsPerMirror: number;
  readonly retryDelayMs: number;
  readonly ca: string | undefined;
  readonly verifyTls: boolean;
  readonly signal: AbortSignal | undefined;
}

function settings(opts: HttpFetchOptions): Settings {
  return {
    connectTimeoutMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    idleTimeoutMs: opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    lowSpeedLimit: opts.lowSpeedLimit ?? LOW_SPEED_LIMIT_BYTES_PER_SECOND,
    lowSpeedTimeMs: opts.lowSpeedTimeMs ?? LOW_SPEED_TIME_MS,
    maxRedirects: opts.maxRedirects ?? MAX_REDIRECTS,
    attemptsPerMirror: opts.attemptsPerMirror ?? MAX_ATTEMPTS_PER_MIRROR,
    retryDelayMs: opts.retryDelayMs ?? RETRY_DELAY_MS,
    ca: opts.ca,
    verifyTls: opts.verifyTls ?? true,
    signal: opts.signal,
  };
}

function parseUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = base === undefined ? new URL(text) : new URL(text, base);
  } catch (cause) {
    throw new HttpError('http.url', `not a URL: ${JSON.stringify(text.slice(0, 200))}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpError('http.url', `unsupported URL scheme ${url.protocol}`, { url: url.href });
  }
  return url;
}

function classify(error: unknown, url: string): HttpError {
  if (error instanceof HttpError) return error;
  const code = (error as { code?: unknown }).code;
  const name = typeof code === 'string' ? code : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'ABORT_ERR') return new HttpError('http.aborted', 'transfer aborted', { url, cause: error });
  if (TLS_ERROR.test(name)) return new HttpError('http.tls', `TLS: ${message}`, { url, cause: error });
  return new HttpError('http.connection', `connection failed: ${name || message}`, { url, cause: error });
}

/** Sends one GET and follows redirects; resolves with the final response (headers only read). */
async function openResponse(
  start: URL,
  range: string | null,
  s: Settings,
): Promise<{ res: http.IncomingMessage; req: http.ClientRequest; url: URL }> {
  let url = start;
  for (let redirects = 0; ; redirects++) {
    const { req, res } = await new Promise<{ req: http.ClientRequest; res: http.IncomingMessage }>(
      (resolve, reject) => {
        const headers: Record<string, string> = {
          'accept-encoding': 'identity',
          'user-agent': 'tmpl-worker',
        };
        if (range !== null) headers.range = range;
        const common = { headers, agent: false as const, signal: s.signal };
        const req =
          url.protocol === 'https:'
            ? https.request(url, { ...common, ca: s.ca, rejectUnauthorized: s.verifyTls })
            : http.request(url, common);
        const timer = setTimeout(() => {
          req.destroy(
            new HttpError('http.connect-timeout', `no response within ${s.connectTimeoutMs} ms`, {
              url: url.href,
            }),
          );
        }, s.connectTimeoutMs);
        req.once('response', (res) => {
          clearTimeout(timer);
          resolve({ req, res });
        });
        req.once('error', (error) => {
          clearTimeout(timer);
          reject(classify(error, url.href));
        });
        req.end();
      },
    );
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status)) {
      const location = res.headers.location;
      req.destroy();
      if (redirects >= s.maxRedirects) {
        throw new HttpError('http.redirect', `more than ${s.maxRedirects} redirects`, {
          url: url.href,
          status,
        });
      }
      if (location === undefined) {
        throw new HttpError('http.redirect', `redirect without a location`, { url: url.href, status });
      }
      const next = parseUrl(location, url);
      if (url.protocol === 'https:' && next.protocol !== 'https:') {
        throw new HttpError('http.redirect', 'redirect from https to http refused', {
          url: url.href,
          status,
        });
      }
      url = next;
      continue;
    }
    return { req, res, url };
  }
}

/** Start of a 206 answer's Content-Range, checked against what was asked for. */
function contentRangeStart(header: string | undefined, url: string): number {
  const match = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/.exec(header ?? '');
  if (match === null) {
    throw new HttpError('http.range', `bad Content-Range ${JSON.stringify((header ?? '').slice(0, 100))}`, {
      url,
    });
  }
  return Number(match[1]);
}

interface Cursor {
  /** Absolute offset of the next byte wanted. */
  position: number;
}

/**
 * One connection: yields body bytes from cursor.position up to `end` (exclusive; null = to the
 * end of the body). Throws HttpError on any failure; the cursor tells how far it got.
 */
async function* attempt(
  url: URL,
  cursor: Cursor,
  end: number | null,
  cap: number,
  s: Settings,
): AsyncGenerator<Uint8Array> {
  const href = url.href;
  const range =
    cursor.position > 0 || end !== null ? `bytes=${cursor.position}-${end !== null ? end - 1 : ''}` : null;
  const { req, res } = await openResponse(url, range, s);
  try {
    const status = res.statusCode ?? 0;
    let skip = 0;
    if (status === 206 && range !== null) {
      const start = contentRangeStart(res.headers['content-range'], href);
      if (start !== cursor.position) {
        throw new HttpError('http.range', `asked for byte ${cursor.position}, got a range from ${start}`, {
          url: href,
          status,
        });
      }
    } else if (status === 200) {
      // A server without Range support sends everything again: skip what we already have.
      skip = cursor.position;
    } else {
      throw new HttpError('http.status', `HTTP status ${status}`, { url: href, status });
    }

    const chunks = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let windowWaited = 0;
    let windowBytes = 0;
    for (;;) {
      if (end !== null && cursor.position >= end) return;
      const waitStart = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const next = chunks.next();
      // A lost race leaves `next` to settle after the response is destroyed; its outcome is moot.
      next.catch(() => undefined);
      let result: IteratorResult<Buffer>;
      try {
        result = await Promise.race([
          next,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              reject(new HttpError('http.idle-timeout', `no data for ${s.idleTimeoutMs} ms`, { url: href }));
            }, s.idleTimeoutMs);
          }),
        ]);
      } catch (error) {
        throw classify(error, href);
      } finally {
        clearTimeout(timer);
      }
      if (result.done === true) {
        if (end !== null && cursor.position < end) {
          throw new HttpError('http.truncated', `body ended at byte ${cursor.position} of ${end}`, {
            url: href,
          });
        }
        if (skip > 0) {
          throw new HttpError('http.truncated', `body ended before byte ${cursor.position}`, { url: href });
        }
        return;
      }
      let chunk: Uint8Array = result.value;
      // The low-speed check counts only time spent waiting for the server, not time the consumer
      // took: a slow reader downstream must not look like a slow mirror.
      windowWaited += performance.now() - waitStart;
      windowBytes += chunk.length;
      if (windowWaited >= s.lowSpeedTimeMs) {
        const rate = windowBytes / (windowWaited / 1000);
        if (rate < s.lowSpeedLimit) {
          throw new HttpError(
            'http.too-slow',
            `${Math.round(rate)} bytes/s for ${Math.round(windowWaited)} ms, below ${s.lowSpeedLimit}`,
            { url: href },
          );
        }
        windowWaited = 0;
        windowBytes = 0;
      }
      if (skip > 0) {
        const dropped = Math.min(skip, chunk.length);
        skip -= dropped;
        chunk = chunk.subarray(dropped);
        if (chunk.length === 0) continue;
      }
      if (end !== null && cursor.position + chunk.length > end)
        chunk = chunk.subarray(0, end - cursor.position);
      if (cursor.position + chunk.length > cap) {
        throw new HttpError('http.too-large', `more than ${cap} bytes`, { url: href });
      }
      cursor.position += chunk.length;
      yield chunk;
    }
  } finally {
    req.destroy();
    res.destroy();
  }
}

/**
 * Streams the bytes of one file from its mirrors. The first mirror is used until it fails; a
 * dropped or truncated connection is resumed on the same mirror with Range; any other failure
 * (status, timeout, too slow, too large, TLS) moves on to the next mirror, which resumes at the
 * same byte. When every mirror has failed, the last error is thrown, its message listing all.
 */
export async function* fetchStream(
  request: FetchRequest,
  opts: HttpFetchOptions = {},
): AsyncGenerator<Uint8Array> {
  const s = settings(opts);
  const offset = request.offset ?? 0;
  const cursor: Cursor = { position: offset };
  const end = request.length !== undefined ? offset + request.length : null;
  const cap = offset + request.maxBytes;
  if (end !== null && end > cap) {
    throw new HttpError('http.too-large', `${request.length} bytes wanted, the cap is ${request.maxBytes}`);
  }
  if (end !== null && end <= offset) return;
  if (request.urls.length === 0) throw new HttpError('http.url', 'no URL to fetch from');
  const failures: string[] = [];
  let last: HttpError | null = null;
  for (const text of request.urls) {
    let url: URL;
    try {
      url = parseUrl(text);
    } catch (error) {
      last = error as HttpError;
      failures.push(`${text.slice(0, 200)}: ${last.message}`);
      continue;
    }
    let attempts = 0;
    let progressMark = cursor.position;
    for (;;) {
      attempts++;
      try {
        yield* attempt(url, cursor, end, cap, s);
        return;
      } catch (error) {
        const failure = classify(error, url.href);
        if (failure.code === 'http.aborted' || s.signal?.aborted === true) throw failure;
        last = failure;
        failures.push(`${url.href}: ${failure.message}`);
        opts.logger?.warn(
          { url: url.href, code: failure.code, position: cursor.position },
          'download failed',
        );
        if (cursor.position - progressMark >= MIN_PROGRESS_FOR_RETRY_RESET) {
          attempts = 0;
          progressMark = cursor.position;
        }
        if (!RESUMABLE.has(failure.code) || attempts >= s.attemptsPerMirror) break;
        await sleep(s.retryDelayMs, undefined, { signal: s.signal }).catch(() => undefined);
      }
    }
  }
  const lastError = last as HttpError;
  throw new HttpError(lastError.code, `every mirror failed: ${failures.slice(-8).join('; ')}`, {
    url: lastError.url ?? undefined,
    status: lastError.status ?? undefined,
    cause: lastError,
  });
}

/** Collects a whole (small, capped) file into memory: repository metadata. */
export async function fetchBytes(request: FetchRequest, opts: HttpFetchOptions = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of fetchStream(request, opts)) {
    parts.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
