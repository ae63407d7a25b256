/**
 * The qrexec service tmpl.Worker, run in a disposable VM: a session of REQUEST frames on stdin
 * (protocol/request-sequence.ts: a query, then at most one package; for op unpack, the .rpm
 * follows in PACKAGE_DATA frames until EOF), each answered on stdout as HELLO ... END, logs on
 * stderr (qrexec forwards them). The first HELLO goes out before the first request is read; any
 * failure ends the session with an ERROR frame carrying the error's stable code, and a non-zero
 * exit status.
 */
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { TmplError } from '../protocol/errors.ts';
import { decodeFrames, type Frame, type FrameType } from '../protocol/frames.ts';
import { MAX_ERROR_MESSAGE_LENGTH } from '../protocol/limits.ts';
import { decodeRequest, sanitizeText, type WorkerRequest } from '../protocol/messages.ts';
import { RequestSequence } from '../protocol/request-sequence.ts';
import { WorkerError } from './errors.ts';
import type { HttpFetchOptions } from './http-fetch.ts';
import { runDownload, runHeader } from './ops-download.ts';
import { runFetch, runUnpack } from './ops-fetch.ts';
import { FrameWriter } from './ops-output.ts';
import { runQuery } from './ops-query.ts';
import type { LoadedRepository, RepoContext } from './repo-client.ts';

/** The frame types the worker reads. */
const INPUT_TYPES: ReadonlySet<FrameType> = new Set<FrameType>(['REQUEST', 'PACKAGE_DATA']);

declare const __TMPL_BUILD_VERSION__: string | undefined;

/** The worker's version (sent in HELLO): set by the build, else from package.json. */
export function workerVersion(): string {
  if (typeof __TMPL_BUILD_VERSION__ === 'string') return __TMPL_BUILD_VERSION__;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' && /^[A-Za-z0-9_.+-]{1,64}$/.test(pkg.version) ? pkg.version : '0';
  } catch {
    return '0';
  }
}

export interface WorkerOptions {
  readonly input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  readonly output: Writable;
  readonly logger: Logger;
  /** Transfer limits (timeouts, low-speed limit); defaults are http-fetch's named constants. */
  readonly http?: HttpFetchOptions;
}

/** The PACKAGE_DATA payloads that follow the request (op unpack). */
async function* packageData(frames: AsyncIterator<Frame>): AsyncGenerator<Uint8Array> {
  for (;;) {
    const next = await frames.next();
    if (next.done === true) return;
    if (next.value.type !== 'PACKAGE_DATA') {
      throw new WorkerError('worker.input', `${next.value.type} frame after the request`);
    }
    yield next.value.payload;
  }
}

function errorFrame(error: unknown): { code: string; message: string } {
  const code =
    error instanceof TmplError && /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(error.code) && error.code.length <= 100
      ? error.code
      : 'worker.internal';
  const message = error instanceof Error ? error.message : String(error);
  return { code, message: sanitizeText(message, MAX_ERROR_MESSAGE_LENGTH, { multiline: true }) };
}

/** Answers one request (after its HELLO). */
async function answer(
  request: WorkerRequest,
  frames: AsyncIterator<Frame>,
  ctx: RepoContext,
  out: FrameWriter,
): Promise<void> {
  switch (request.op) {
    case 'query':
      return runQuery(request, ctx, out);
    case 'fetch':
      return runFetch(request, ctx, out);
    case 'download':
      return runDownload(request, ctx, out);
    case 'header':
      return runHeader(request, ctx, out);
    case 'unpack':
      return runUnpack(request, packageData(frames), ctx, out);
    case 'hello':
      return out.end();
  }
}

/**
 * Runs the session's requests (protocol/request-sequence.ts): each one answered HELLO ... END,
 * the next read only after END. Resolves with the exit status: 0 once the input ended after an
 * END (or the session's last request was answered), 1 after ERROR. Throws only when the output
 * itself is gone (nothing more can be said).
 */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  const { logger } = opts;
  const out = new FrameWriter(opts.output);
  const sequence = new RequestSequence();
  // What the session loaded (the query's repositories) serves its later requests; the
  // orchestrator trusts none of it and checks every reply as it would a fresh worker's.
  const loaded = new Map<string, LoadedRepository>();
  try {
    await out.hello(workerVersion());
    const frames = decodeFrames(opts.input, { types: INPUT_TYPES })[Symbol.asyncIterator]();
    for (;;) {
      const next = await frames.next();
      if (next.done === true) {
        if (sequence.ops.length > 0) return 0;
        throw new WorkerError('worker.input', 'input ended before a REQUEST frame');
      }
      if (sequence.ops.length > 0) {
        out.begin();
        await out.hello(workerVersion());
      }
      if (next.value.type !== 'REQUEST')
        throw new WorkerError('worker.input', `${next.value.type} frame in place of a REQUEST`);
      const request: WorkerRequest = decodeRequest(next.value.payload);
      sequence.accept(request.op);
      out.setOp(request.op);
      logger.info(
        { op: request.op, repos: request.repos.map((r) => r.id), package: request.package },
        'request',
      );
      const ctx: RepoContext = { releasever: request.releasever, http: opts.http ?? {}, logger, loaded };
      await answer(request, frames, ctx, out);
      logger.info({ files: out.files, bytes: out.dataBytes }, 'done');
      if (sequence.complete) return 0;
    }
  } catch (error) {
    const frame = errorFrame(error);
    logger.error({ err: error, code: frame.code }, 'request failed');
    if (error instanceof WorkerError && error.code === 'worker.output') throw error;
    if (!out.ended) await out.json('ERROR', frame);
    return 1;
  } finally {
    await out.close();
  }
}

/** Entry point of bin/tmpl-worker.mjs: stdin/stdout are the qrexec service's streams. */
export async function main(): Promise<number> {
  const logger = pino(
    { name: 'tmpl-worker', level: process.env.TMPL_WORKER_LOG_LEVEL ?? 'info' },
    pino.destination({ dest: 2, sync: true }),
  );
  try {
    return await runWorker({ input: process.stdin as Readable, output: process.stdout, logger });
  } catch (error) {
    logger.fatal({ err: error }, 'output lost');
    return 2;
  } finally {
    // Whatever the orchestrator still sends is not needed; an open stdin must not keep the
    // process (and with it the qrexec call) alive after the answer is complete.
    process.stdin.destroy();
  }
}
