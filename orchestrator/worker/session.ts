/**
 * Where the worker runs, and the pipes to it.
 *
 * - dispvm (the default): a new disposable of NAME, else of the caller's default_dispvm (dom0's own,
 *   or the management VM's). From dom0: admin.vm.CreateDisposable, admin.vm.Start,
 *   `qrexec-client -d DISP "DEFAULT:QUBESRPC tmpl.Worker dom0"`, and admin.vm.Kill in a finally
 *   (as qvm-run --dispvm does; Qubes removes a killed disposable). From a management VM:
 *   `qrexec-client-vm @dispvm:NAME tmpl.Worker`; qrexec creates and destroys the disposable.
 * - updatevm: the named VM (default: the global updatevm), the incumbent's trust model.
 * - local: a sandboxed subprocess on this machine, for development only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { displayLine } from '../../protocol/display-text.ts';
import type { WorkerRequest } from '../../protocol/messages.ts';
import { RequestSequence } from '../../protocol/request-sequence.ts';
import type { AdminClient } from '../qubes/admin-client.ts';
import { registerCleanup, resolveCleanup } from '../transaction/cleanup-journal.ts';
import { OrchestratorError } from '../errors.ts';
import type { QubesEnvironment } from '../qubes/environment.ts';
import { QREXEC_CONNECT_TIMEOUT_S } from '../qubes/vm-service.ts';
import { ReplySplitter } from './reply-split.ts';
import { sendRequest } from './request.ts';

export { QREXEC_CONNECT_TIMEOUT_S };
export const WORKER_SERVICE = 'tmpl.Worker';

/** Longest line of the worker's stderr that reaches the debug log (characters, escaped). */
const MAX_LOGGED_WORKER_LINE = 2000;

export type WorkerPlacement =
  | { readonly kind: 'dispvm'; readonly dispvm?: string }
  | { readonly kind: 'updatevm'; readonly vm?: string }
  | { readonly kind: 'local' };

/** One request of a session on its way: its reply's bytes, and the sending. */
export interface Exchange {
  /** The reply: HELLO ... END or ERROR (for the session's last request, up to the worker's end). */
  readonly reply: AsyncIterable<Uint8Array>;
  /** Resolves once the request (and an unpack's file) is written. */
  readonly sent: Promise<void>;
}

export interface ExchangeOptions {
  /** For unpack: the .rpm sent as PACKAGE_DATA frames after the request. */
  readonly file?: string;
  /** Another request may follow in this session (stdin stays open). */
  readonly more?: boolean;
}

export interface WorkerSession {
  /** Raw pipes, for a caller that sends one request itself (request.ts sendRequest). */
  readonly stdin: NodeJS.WritableStream;
  readonly stdout: AsyncIterable<Uint8Array>;
  /**
   * Sends the session's next request (protocol/request-sequence.ts; a sequence outside its
   * rule throws 'message.sequence') and gives its reply. Read each reply to its end before the
   * next request; a reply read only in part leaves the session unusable.
   */
  exchange(request: WorkerRequest, options?: ExchangeOptions): Exchange;
  /** Where the worker ran, for messages: a VM name or 'local'. */
  readonly where: string;
  /** Resolves with the process's exit code once it has ended. */
  readonly exited: Promise<number>;
  /** Ends the worker (and its disposable) whatever state it is in. Idempotent. */
  close(): Promise<void>;
}

/**
 * The worker bundle for --local-worker: beside the built tmpl (dist/ or an installed copy), or,
 * when this module runs from the sources, in the build output beside them.
 */
function localWorkerBundle(): string {
  const here = import.meta.url;
  return fileURLToPath(
    new URL(here.endsWith('.ts') ? '../../dist/tmpl-worker.mjs' : './tmpl-worker.mjs', here),
  );
}

function forwardStderr(child: ChildProcess, log: Logger, where: string): void {
  let pending = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    pending += chunk;
    if (pending.length > 64 * 1024) pending = pending.slice(-64 * 1024);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      // untrusted: from the worker; logged as data, never interpreted
      const line = displayLine(pending.slice(0, nl), MAX_LOGGED_WORKER_LINE);
      pending = pending.slice(nl + 1);
      if (line) log.debug({ worker: where }, line);
    }
  });
}

function wrap(
  child: ChildProcess,
  where: string,
  log: Logger,
  cleanup: () => Promise<void>,
  signal: AbortSignal | undefined,
): WorkerSession {
  forwardStderr(child, log, where);
  // 'exit', not 'close': 'close' waits for stdout to end, which never happens once we stop
  // reading it (a worker abandoned after an error).
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.once('error', () => resolve(127));
  });
  child.stdin!.on('error', () => {
    // EPIPE once the worker has gone: its exit status and frames say why.
  });
  let closing: Promise<void> | undefined;
  const replies = new ReplySplitter(child.stdout!);
  const requests = new RequestSequence();
  // An interruption ends the worker at once: whoever reads its stdout sees the stream end, and
  // the disposable is killed even if that reader is waiting on something else.
  const onAbort = (): void => void session.close();
  const session: WorkerSession = {
    stdin: child.stdin!,
    stdout: child.stdout!,
    where,
    exited,
    exchange(request, options = {}) {
      requests.accept(request.op);
      const last = options.more !== true || requests.complete;
      const sent = sendRequest(child.stdin!, request, options.file, { keepOpen: !last });
      sent.catch(() => {});
      return { reply: replies.reply(last), sent };
    },
    close() {
      closing ??= (async () => {
        signal?.removeEventListener('abort', onAbort);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
        child.stdout?.destroy();
        child.stderr?.destroy();
        await cleanup();
      })();
      return closing;
    },
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return session;
}

export interface StartWorkerOptions {
  readonly env: QubesEnvironment;
  readonly admin: AdminClient;
  readonly placement: WorkerPlacement;
  readonly log: Logger;
  /** The run's interruption (interrupt.ts): aborting it closes the session. */
  readonly signal?: AbortSignal;
}

export async function startWorker(options: StartWorkerOptions): Promise<WorkerSession> {
  const { env, admin, placement, log, signal } = options;
  signal?.throwIfAborted();
  if (placement.kind === 'local') return startLocalWorker(log, signal);

  if (env.mode === 'vm') {
    const target =
      placement.kind === 'dispvm'
        ? placement.dispvm
          ? `@dispvm:${placement.dispvm}`
          : '@dispvm'
        : (placement.vm ?? (await admin.getGlobalProperty('updatevm')).value);
    if (!target) throw new OrchestratorError('usage', 'no updatevm is set; give --updatevm NAME');
    log.info({ target }, 'starting worker through qrexec-client-vm');
    const child = spawn(env.qrexecClientVm, [target, WORKER_SERVICE], { stdio: ['pipe', 'pipe', 'pipe'] });
    return wrap(child, target, log, async () => {}, signal);
  }

  // dom0
  if (placement.kind === 'updatevm') {
    const vm = placement.vm ?? (await admin.getGlobalProperty('updatevm')).value;
    if (!vm) throw new OrchestratorError('usage', 'no updatevm is set; give --updatevm NAME');
    try {
      await admin.start(vm);
    } catch (error) {
      if (!(error instanceof OrchestratorError && error.code === 'qubes.vm-not-halted')) throw error;
    }
    return wrap(spawnQrexecClient(env, vm), vm, log, async () => {}, signal);
  }
  // dom0's own default_dispvm (its default is the global one), as qvm-run --dispvm uses it and
  // `tmpl setup` sets it: the caller's default_dispvm, as from a management VM.
  const template = placement.dispvm ?? (await admin.getProperty('dom0', 'default_dispvm')).value;
  if (!template) {
    throw new OrchestratorError('usage', 'no default_dispvm is set; give --dispvm=NAME');
  }
  const disp = await admin.createDisposable(template);
  registerCleanup('disposable', disp);
  log.info({ disposable: disp, template }, 'created disposable for the worker');
  const destroy = async (): Promise<void> => {
    try {
      await admin.kill(disp);
    } catch (error) {
      // Not running any more is fine: Qubes removes a disposable when it stops.
      if (!(
        error instanceof OrchestratorError &&
        (error.code === 'qubes.vm-not-running' || error.code === 'qubes.vm-not-found')
      )) {
        log.warn({ disposable: disp, err: error }, 'could not kill the disposable');
      }
    }
    resolveCleanup('disposable', disp);
  };
  try {
    // A preloaded disposable (Qubes 4.3, preload-dispvm-max on the template) comes back from
    // CreateDisposable already running: Start is then a no-op (QubesVM.start returns at once for
    // a qube that is not halted; qrexec-daemon makes the same two calls for @dispvm).
    await admin.start(disp);
    // Interrupted while the disposable started: kill it rather than connect to it.
    signal?.throwIfAborted();
  } catch (error) {
    await destroy();
    throw error;
  }
  return wrap(spawnQrexecClient(env, disp), disp, log, destroy, signal);
}

function spawnQrexecClient(env: QubesEnvironment, vm: string): ChildProcess {
  return spawn(
    env.qrexecClient,
    ['-d', vm, '-w', String(QREXEC_CONNECT_TIMEOUT_S), `DEFAULT:QUBESRPC ${WORKER_SERVICE} dom0`],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

/**
 * Development mode: the worker as a local subprocess, under bubblewrap when it is installed
 * (read-only root, private /tmp and /dev, own PID namespace). It still shares this machine's
 * network and kernel: use a disposable for anything untrusted.
 */
function startLocalWorker(log: Logger, signal: AbortSignal | undefined): WorkerSession {
  const workerBin = localWorkerBundle();
  const bwrap = ['/usr/bin/bwrap', '/bin/bwrap'].find((p) => existsSync(p));
  const command = bwrap
    ? [
        bwrap,
        '--ro-bind',
        '/',
        '/',
        '--dev',
        '/dev',
        '--proc',
        '/proc',
        '--tmpfs',
        '/tmp',
        '--unshare-pid',
        '--unshare-ipc',
        '--unshare-uts',
        '--die-with-parent',
        '--new-session',
        process.execPath,
        workerBin,
      ]
    : [process.execPath, workerBin];
  if (!bwrap) log.warn('bubblewrap not found: the local worker runs unsandboxed');
  const [program, ...args] = command as [string, ...string[]];
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  return wrap(child, 'local', log, async () => {}, signal);
}
