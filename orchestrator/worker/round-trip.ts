/**
 * One `hello` request to tmpl.Worker in a new disposable: the worker answers HELLO then END
 * (protocol/frames.ts), touching no repository. `tmpl setup` ends with it, and `--check` uses it
 * to tell what stops a worker: the exit status of the qrexec call says whether policy refused it
 * (126), the disposable's template has no such service (127, qrexec's "service not found"), or no
 * Node.js (69, from qrexec-policy/qubes-rpc/tmpl.Worker).
 */
import type { Logger } from 'pino';
import { decodeFrames, FrameSequence } from '../../protocol/frames.ts';
import { decodeJsonFrame, PROTOCOL_VERSION, type WorkerRequest } from '../../protocol/messages.ts';
import type { AdminClient } from '../qubes/admin-client.ts';
import type { QubesEnvironment } from '../qubes/environment.ts';
import { sendRequest } from './request.ts';
import { startWorker, type WorkerPlacement, type WorkerSession } from './session.ts';

/** How long the round trip may take, disposable start included (a cold one takes 7-20 s). */
export const ROUND_TRIP_TIMEOUT_MS = 120_000;

export type RoundTripOutcome =
  | { readonly ok: true; readonly where: string; readonly worker: string }
  | {
      readonly ok: false;
      /** The qrexec call's exit status; undefined when no worker process started. */
      readonly status?: number;
      /** The worker's own ERROR frame (untrusted: schema-checked text). */
      readonly workerError?: { readonly code: string; readonly message: string };
      readonly error?: unknown;
    };

export interface RoundTripOptions {
  readonly env: QubesEnvironment;
  readonly admin: AdminClient;
  readonly log: Logger;
  readonly placement: WorkerPlacement;
  readonly releasever: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Reads the hello stream; returns the worker's version, or its ERROR frame. */
async function readHello(
  session: WorkerSession,
): Promise<{ worker?: string; workerError?: { code: string; message: string } }> {
  let worker: string | undefined;
  for await (const frame of decodeFrames(session.stdout, { sequence: new FrameSequence('hello') })) {
    if (frame.type === 'HELLO') worker = decodeJsonFrame(frame, 'HELLO').worker;
    if (frame.type === 'ERROR') return { workerError: decodeJsonFrame(frame, 'ERROR') };
  }
  return worker !== undefined ? { worker } : {};
}

export async function helloRoundTrip(options: RoundTripOptions): Promise<RoundTripOutcome> {
  let session: WorkerSession;
  try {
    session = await startWorker(options);
  } catch (error) {
    return { ok: false, error };
  }
  const timer = setTimeout(() => void session.close(), options.timeoutMs ?? ROUND_TRIP_TIMEOUT_MS);
  try {
    const request: WorkerRequest = {
      protocol: PROTOCOL_VERSION,
      op: 'hello',
      releasever: options.releasever,
      repos: [],
    };
    const [answer] = await Promise.all([
      readHello(session),
      sendRequest(session.stdin, request).catch(() => {}),
    ]);
    const status = await session.exited;
    if (answer.worker !== undefined && status === 0)
      return { ok: true, where: session.where, worker: answer.worker };
    return { ok: false, status, ...(answer.workerError ? { workerError: answer.workerError } : {}) };
  } catch (error) {
    await session.close();
    return { ok: false, status: await session.exited, error };
  } finally {
    clearTimeout(timer);
    await session.close();
  }
}
