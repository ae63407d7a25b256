/**
 * The simulated qubesd: the Admin API socket and the internal socket used by the volume import
 * script (dom0's /var/run/qubesd.sock and /var/run/qubesd.internal.sock). One request per
 * connection, read until the client shuts down its write side.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { pino, type Logger } from 'pino';
import { dispatch, type MethodSpec, type MethodTable, type PowerHooks } from './api.ts';
import { Disposables, timingFromEnv, type DisposableTiming } from './disposables.ts';
import { QubesApiError } from './errors.ts';
import { encodeException, encodeOk, MAX_REQUEST_BYTES, parseRequest } from './framing.ts';
import { PROPERTY_METHODS } from './methods-props.ts';
import { VM_METHODS } from './methods-vm.ts';
import { INTERNAL_METHODS, VOLUME_METHODS } from './methods-volume.ts';
import { QubesModel } from './model.ts';
import { PROPERTY_READER } from './properties.ts';
import { defaultInternalSocketPath } from './paths.ts';
import { loadPreloads } from './preload.ts';
import { loadState, saveState } from './state.ts';
import { removeFromDisk } from './storage.ts';

export interface AdminDaemonOptions {
  /** State directory made by seedState. */
  readonly dir: string;
  /** Admin API socket (dom0's /var/run/qubesd.sock). */
  readonly socketPath: string;
  /** Internal API socket; default `qubesd.internal.sock` next to socketPath. */
  readonly internalSocketPath?: string;
  readonly logger?: Logger;
  readonly hooks?: PowerHooks;
  /**
   * Start as after a host boot: every qube Halted, auto_cleanup disposables gone (what
   * qubesd finds when dom0 boots). Without it the daemon resumes like a restarted qubesd,
   * keeping the power states.
   */
  readonly boot?: boolean;
  /** What disposables cost (disposables.ts); default from TMPL_SIM_DISPVM_* in the environment. */
  readonly dispvmTiming?: DisposableTiming;
}

/** An Admin API call the daemon answered without an exception. */
export interface AnsweredCall {
  readonly method: string;
  readonly source: string;
  readonly dest: string;
  readonly arg: string;
}

/** Answered calls kept for observers (the newest ones). */
export const MAX_ANSWERED_CALLS = 100_000;

export interface AdminDaemon {
  readonly socketPath: string;
  readonly internalSocketPath: string;
  /**
   * The calls answered so far, oldest first (at most MAX_ANSWERED_CALLS): for in-process
   * observers, e.g. a test counting the disposables an install created.
   */
  readonly answered: readonly AnsweredCall[];
  /** The live model, for in-process observers (the qrexec layer). Read-only by convention. */
  readonly model: QubesModel;
  /** Disposables' costs and the record of their starts, pauses and removals. */
  readonly disposables: Disposables;
  close(): Promise<void>;
}

function table(entries: ReadonlyArray<readonly [string, MethodSpec, string?]>): MethodTable {
  return new Map(entries.map(([name, spec, endpoint]) => [name, { spec, endpoint }]));
}

/** cleanup_socket: remove a stale socket, refuse to steal a live one. */
async function cleanupSocket(socketPath: string): Promise<void> {
  const exists = await fs.lstat(socketPath).catch(() => null);
  if (!exists) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`socket already exists: ${socketPath}`);
  await fs.unlink(socketPath);
}

async function bootReset(model: QubesModel, log: Logger): Promise<void> {
  for (const vm of model.vms()) {
    if (vm.klass === 'AdminVM') continue;
    vm.powerState = 'Halted';
    if (vm.klass === 'DispVM' && vm.props.auto_cleanup === true) {
      model.state.vms = model.state.vms.filter((other) => other !== vm);
      await removeFromDisk(model, vm).catch((error: unknown) =>
        log.error({ err: error }, `Error while removing VM '${vm.name}' files`),
      );
    }
  }
}

export async function startAdminDaemon(options: AdminDaemonOptions): Promise<AdminDaemon> {
  const log = options.logger ?? pino({ level: 'silent' });
  const model = new QubesModel(options.dir, await loadState(options.dir), PROPERTY_READER);
  const hooks = options.hooks ?? {};
  let saving: Promise<void> = Promise.resolve();
  // Saves run one after another and each serialises the state when it starts, so the last one
  // on disk is always the newest.
  const save = (): Promise<void> => {
    saving = saving.catch(() => undefined).then(() => saveState(options.dir, model.state));
    return saving;
  };
  const dispvms = new Disposables(options.dispvmTiming ?? timingFromEnv(), log);
  if (options.boot) {
    await bootReset(model, log);
    await save();
  }
  await loadPreloads({ model, log, hooks, save, dispvms }, options.boot === true);

  const answered: AnsweredCall[] = [];
  const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
  const connections = new Set<net.Socket>();
  const serve = (methods: MethodTable) => (socket: net.Socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    const chunks: Buffer[] = [];
    let length = 0;
    let aborted = false;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (aborted) return;
      if (length + chunk.length > MAX_REQUEST_BYTES) {
        log.warn('request too long');
        aborted = true;
        socket.destroy();
        return;
      }
      chunks.push(chunk);
      length += chunk.length;
    });
    socket.on('end', () => {
      if (aborted) return;
      const request = parseRequest(Buffer.concat(chunks));
      if (!request) {
        log.warn('framing error');
        socket.destroy();
        return;
      }
      dispatch(methods, request, { model, log, hooks, save, dispvms }).then(
        (result) => {
          if (answered.length >= MAX_ANSWERED_CALLS) answered.shift();
          const { method, source, dest, arg } = request;
          answered.push({ method: text(method), source: text(source), dest: text(dest), arg: text(arg) });
          socket.end(encodeOk(result));
        },
        (error: unknown) => {
          if (error instanceof QubesApiError) {
            socket.end(encodeException(error.excType, error.message));
          } else {
            log.error({ err: error }, 'unhandled exception');
            socket.destroy();
          }
        },
      );
    });
  };

  const listen = async (socketPath: string, methods: MethodTable): Promise<net.Server> => {
    await cleanupSocket(socketPath);
    const server = net.createServer({ allowHalfOpen: true }, serve(methods));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    await fs.chmod(socketPath, 0o660);
    return server;
  };

  const internalSocketPath = options.internalSocketPath ?? defaultInternalSocketPath(options.socketPath);
  const admin = await listen(
    options.socketPath,
    table([...VM_METHODS, ...PROPERTY_METHODS, ...VOLUME_METHODS]),
  );
  const internal = await listen(internalSocketPath, table(INTERNAL_METHODS)).catch(async (error: unknown) => {
    await new Promise((resolve) => admin.close(resolve));
    throw error;
  });
  log.info({ socketPath: options.socketPath, internalSocketPath }, 'qubesd simulator listening');

  return {
    socketPath: options.socketPath,
    internalSocketPath,
    answered,
    model,
    disposables: dispvms,
    async close() {
      await dispvms.close();
      const closed = Promise.all(
        [admin, internal].map((server) => new Promise((resolve) => server.close(resolve))),
      );
      // A client that never half-closes would otherwise keep the servers open forever.
      for (const socket of connections) socket.destroy();
      await closed;
      await saving.catch(() => undefined);
      await fs.rm(options.socketPath, { force: true });
      await fs.rm(internalSocketPath, { force: true });
    },
  };
}
