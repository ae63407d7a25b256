/**
 * A raw qubesd client for the simulator's tests, written from the wire format (QUBES.md), not
 * from our orchestrator's client: one connection per call, SHUT_WR after the request.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { DisposableTiming } from '../../sim/admin/disposables.ts';
import { seedState, startAdminDaemon, type AdminDaemon } from '../../sim/admin/index.ts';

export interface RawReply {
  /** The bytes as received; empty when the daemon aborted the connection. */
  readonly raw: Buffer;
}

export function rawRequest(socketPath: string, request: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(socketPath, () => socket.end(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // An aborted connection can surface as EPIPE/ECONNRESET while we still write.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') return;
      reject(error);
    });
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

export interface Call {
  readonly method: string;
  readonly dest?: string;
  readonly arg?: string;
  readonly payload?: string | Uint8Array;
  readonly src?: string;
}

export function encodeCall(call: Call): Buffer {
  const header = `${call.method}+${call.arg ?? ''} ${call.src ?? 'dom0'} name ${call.dest ?? 'dom0'}\0`;
  const payload = call.payload ?? '';
  return Buffer.concat([
    Buffer.from(header, 'latin1'),
    typeof payload === 'string' ? Buffer.from(payload) : payload,
  ]);
}

export type Parsed =
  | { kind: 'ok'; content: string }
  | { kind: 'exception'; type: string; traceback: string; message: string }
  | { kind: 'empty' };

export function parseReply(raw: Buffer): Parsed {
  if (raw.length === 0) return { kind: 'empty' };
  if (raw[0] === 0x30 && raw[1] === 0) return { kind: 'ok', content: raw.subarray(2).toString('utf8') };
  if (raw[0] === 0x32 && raw[1] === 0) {
    const fields = raw.subarray(2).toString('utf8').split('\0');
    if (fields.length !== 4 || fields[3] !== '')
      throw new Error(`malformed exception reply ${JSON.stringify(raw.toString())}`);
    return { kind: 'exception', type: fields[0]!, traceback: fields[1]!, message: fields[2]! };
  }
  throw new Error(`unexpected reply ${JSON.stringify(raw.toString())}`);
}

export async function call(socketPath: string, c: Call): Promise<Parsed> {
  return parseReply(await rawRequest(socketPath, encodeCall(c)));
}

/** The content of an OK reply; fails the test with the exception otherwise. */
export async function ok(socketPath: string, c: Call): Promise<string> {
  const reply = await call(socketPath, c);
  if (reply.kind !== 'ok') throw new Error(`${c.method} failed: ${JSON.stringify(reply)}`);
  return reply.content;
}

export interface SeededDaemon {
  readonly dir: string;
  readonly daemon: AdminDaemon;
  readonly socket: string;
  close(): Promise<void>;
}

export async function seededDaemon(
  options: { logger?: Logger; dispvmTiming?: DisposableTiming } = {},
): Promise<SeededDaemon> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sim-admin-'));
  await seedState(dir);
  const daemon = await startAdminDaemon({
    dir,
    socketPath: path.join(dir, 'qubesd.sock'),
    logger: options.logger,
    dispvmTiming: options.dispvmTiming ?? { startMs: 0, resumeMs: 0, cleanupMs: 0 },
  });
  return {
    dir,
    daemon,
    socket: daemon.socketPath,
    async close() {
      await daemon.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
