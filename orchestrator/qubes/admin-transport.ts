/**
 * The two ways to reach the Admin API, as qubesadmin does it:
 *  - dom0: one connection to qubesd's socket per call (`METHOD+ARG dom0 name DEST\0PAYLOAD`, then
 *    SHUT_WR); large payloads run the dom0 service script directly (admin.vm.volume.ImportWithSize).
 *  - a VM: `qrexec-client-vm DEST METHOD+ARG`, payload on stdin, qubesd's reply on stdout.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { OrchestratorError } from '../errors.ts';
import { MAX_ADMIN_REPLY_BYTES, parseAdminReply } from './admin-reply.ts';
import { displayLine, quotedLine } from '../../protocol/display-text.ts';
import type { QubesEnvironment } from './environment.ts';

/** qubesd refuses requests past 64 KiB; large data goes through the service scripts. */
export const MAX_ADMIN_REQUEST_BYTES = 65536;

export interface AdminCall {
  readonly dest: string;
  readonly method: string;
  readonly arg?: string;
  readonly payload?: Uint8Array;
}

export interface AdminTransport {
  call(call: AdminCall): Promise<Buffer>;
  /**
   * A call whose payload is a stream (volume import). If `payload` throws, the stream is ended
   * early so the service sees too few bytes and fails (Qubes then keeps the old volume); the
   * payload's error is rethrown after the service has answered.
   */
  callStream(
    call: Omit<AdminCall, 'payload'>,
    payload: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): Promise<Buffer>;
}

function describe(call: Omit<AdminCall, 'payload'>): string {
  return `${call.method}${call.arg ? '+' + call.arg : ''} on ${call.dest}`;
}

function checkName(value: string, what: string): void {
  // Method names, args and VM names never contain spaces or NULs (they are framing characters).
  if (!/^[A-Za-z0-9_.:@+-]*$/.test(value)) {
    throw new OrchestratorError('usage', `invalid ${what} for an Admin API call: ${quotedLine(value)}`);
  }
}

/** Every name of a call, before it is framed or passed to a service script. */
function checkCall(call: Omit<AdminCall, 'payload'>): void {
  checkName(call.method, 'method');
  checkName(call.arg ?? '', 'argument');
  checkName(call.dest, 'destination');
}

/** Collects a child's or socket's output up to MAX_ADMIN_REPLY_BYTES. */
async function readAll(stream: NodeJS.ReadableStream, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buffer.length;
    if (total > MAX_ADMIN_REPLY_BYTES) {
      throw new OrchestratorError(
        'qubes.communication',
        `${what}: reply larger than ${MAX_ADMIN_REPLY_BYTES} bytes`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Writes `payload` to `stdin` honouring backpressure; returns the payload's error, if any. */
async function pump(
  payload: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  stdin: NodeJS.WritableStream,
): Promise<unknown> {
  let failure: unknown;
  try {
    for await (const chunk of payload) {
      if (!stdin.write(chunk)) await once(stdin, 'drain');
    }
  } catch (error) {
    failure = error ?? new Error('payload failed');
  }
  stdin.end();
  return failure;
}

export class SocketTransport implements AdminTransport {
  constructor(private readonly env: QubesEnvironment) {}

  async call(call: AdminCall): Promise<Buffer> {
    checkCall(call);
    const header = Buffer.from(`${call.method}+${call.arg ?? ''} dom0 name ${call.dest}\0`, 'ascii');
    const payload = call.payload ?? new Uint8Array();
    if (header.length + payload.length > MAX_ADMIN_REQUEST_BYTES) {
      throw new OrchestratorError(
        'qubes.communication',
        `${describe(call)}: request over ${MAX_ADMIN_REQUEST_BYTES} bytes`,
      );
    }
    const socket = net.createConnection(this.env.qubesdSocket);
    try {
      await once(socket, 'connect');
    } catch (error) {
      throw new OrchestratorError(
        'qubes.communication',
        `cannot connect to qubesd at ${this.env.qubesdSocket}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    socket.end(Buffer.concat([header, payload]));
    const reply = await readAll(socket, describe(call));
    return parseAdminReply(reply, describe(call));
  }

  async callStream(
    call: Omit<AdminCall, 'payload'>,
    payload: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): Promise<Buffer> {
    checkCall(call);
    const script = path.join(this.env.qrexecServicesDir, call.method);
    const child = spawn(script, [call.arg ?? ''], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_REQUESTED_TARGET: call.dest },
      // Not in tmpl's process group: a Ctrl-C must not kill the script between its ImportBegin
      // and ImportEnd (that would leave the temporary volume); an interrupted import ends its
      // input early instead, and the script reports the failed import to qubesd.
      detached: true,
    });
    return runChild(child, payload, describe(call), script);
  }
}

export class QrexecTransport implements AdminTransport {
  constructor(private readonly env: QubesEnvironment) {}

  async call(call: AdminCall): Promise<Buffer> {
    const payload = call.payload;
    return this.callStream(call, payload && payload.length > 0 ? [payload] : []);
  }

  async callStream(
    call: Omit<AdminCall, 'payload'>,
    payload: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): Promise<Buffer> {
    checkCall(call);
    const service = call.arg !== undefined && call.arg !== '' ? `${call.method}+${call.arg}` : call.method;
    // Not in tmpl's process group: a second Ctrl-C must not cut the Admin API calls of the
    // cleanup that the first one started (interrupt.ts).
    const child = spawn(this.env.qrexecClientVm, [call.dest, service], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    return runChild(child, payload, describe(call), this.env.qrexecClientVm);
  }
}

async function runChild(
  child: ReturnType<typeof spawn>,
  payload: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  what: string,
  program: string,
): Promise<Buffer> {
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(
        new OrchestratorError('qubes.communication', `cannot run ${program}: ${error.message}`, {
          cause: error,
        }),
      ),
    );
  });
  const exited = new Promise<number>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  await spawned;
  child.stdin!.on('error', () => {
    // EPIPE when the service exits early; its exit code and reply tell what happened.
  });
  const stderr = readAll(child.stderr!, what).catch(() => Buffer.alloc(0));
  const [failure, reply] = await Promise.all([pump(payload, child.stdin!), readAll(child.stdout!, what)]);
  const status = await exited;
  if (failure !== undefined)
    throw failure instanceof Error ? failure : new Error('payload failed', { cause: failure });
  if (status === 126) {
    throw new OrchestratorError('qrexec.refused', `${what}: refused by qrexec policy`);
  }
  if (status !== 0 && reply.length === 0) {
    const detail = displayLine((await stderr).toString('utf8').trim());
    throw new OrchestratorError(
      'qrexec.failed',
      `${what}: service call failed (exit ${status})${detail ? ': ' + detail : ''}`,
    );
  }
  return parseAdminReply(reply, what);
}

export function createTransport(env: QubesEnvironment): AdminTransport {
  return env.mode === 'dom0' ? new SocketTransport(env) : new QrexecTransport(env);
}
