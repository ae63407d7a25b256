/**
 * The simulator's qrexec daemon: a Unix socket server (`<dir>/qrexec.sock`) that plays
 * qrexec-daemon, qrexec-policy-daemon and the qrexec agents of every simulated VM.
 *
 * A call from a VM (qrexec-client-vm) is decided by policy, loaded afresh for every call from
 * `<dir>/policy.d`, the repository's qrexec-policy/ and sim/qrexec/base-policy/ (merged by
 * file name, C order). An allowed call runs:
 *  - on dom0: admin.vm.volume.Import/ImportWithSize run the simulator's import script (as dom0
 *    runs /etc/qubes-rpc/admin.vm.volume.Import); other admin.* calls are forwarded to qubesd's
 *    socket with the calling VM as source and the requested target as destination (what
 *    qubesd-query does); qubes.FeaturesRequest is handled by the daemon;
 *  - on a VM: the service from the service table (service-table.ts), sandboxed (sandbox.ts),
 *    after starting the VM if policy allows autostart;
 *  - on @dispvm:NAME: a new disposable (admin.vm.CreateDisposable on NAME, admin.vm.Start), killed
 *    with admin.vm.Kill when the call ends, whether the service exits, crashes, or the caller dies.
 * dom0's qrexec-client path (`exec`) skips policy and needs the target running, like the real one.
 *
 * Exit statuses the caller sees: the service's; 126 when policy refused; 127 when the target has
 * no such service; 125 for any other failure (qrexec's QREXEC_EXIT_PROBLEM).
 *
 * The daemon is one class (SimQrexecDaemon) holding its sockets, calls and disposables in private
 * fields; how a service is launched is in service-launch.ts.
 *
 * Over 300 lines: the options and the class are one unit a reader needs together.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { adminCall, fetchSystemInfo } from './admin-call.ts';
import { ClientConnection } from './connection.ts';
import { failureEndpoint, type Endpoint } from './endpoints.ts';
import { AccessDenied, QrexecError } from './errors.ts';
import { parseHello, splitServiceCall, type Hello } from './hello.ts';
import { DEFAULT_SANDBOX_TMP_BYTES } from './limits.ts';
import { evaluatePolicy, type AskAnswer, type PolicyDecision } from './policy-evaluate.ts';
import { loadPolicyDirs } from './policy-loader.ts';
import type { SystemInfo } from './policy-tokens.ts';
import { probeBubblewrap, type BubblewrapProbe } from './sandbox.ts';
import {
  dom0Endpoint,
  EXIT_SERVICE_NOT_FOUND,
  QREXEC_SOCKET_NAME,
  vmServiceEndpoint,
  type LaunchSettings,
  type ServiceCall,
} from './service-launch.ts';
import { listServices, lookupService, readServiceTable } from './service-table.ts';

export { EXIT_SERVICE_NOT_FOUND, QREXEC_SOCKET_NAME };
export const EXIT_REFUSED = 126;
export const EXIT_PROBLEM = 125;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BASE_POLICY_DIR = path.join(REPO_ROOT, 'sim/qrexec/base-policy');
export const REPO_POLICY_DIR = path.join(REPO_ROOT, 'qrexec-policy');

export interface QrexecDaemonOptions {
  /** The simulator's state directory. */
  readonly dir: string;
  /** The Admin API (qubesd) socket of the simulator. */
  readonly adminSocketPath: string;
  /** Default `<dir>/qrexec.sock`. */
  readonly socketPath?: string;
  /** Default: this repository. Bound read-only into every sandbox. */
  readonly repoRoot?: string;
  /** Default: `<dir>/policy.d`, `<repo>/qrexec-policy`, `<repo>/sim/qrexec/base-policy`. */
  readonly policyDirs?: readonly string[];
  /** The simulated user's answer to `ask` rules. Default: env TMPL_SIM_ASK at call time, else 'deny'. */
  readonly askAnswer?: AskAnswer;
  /** 'auto' (default): bubblewrap when it works, else plain processes with a warning. */
  readonly sandbox?: 'auto' | 'bubblewrap' | 'none';
  /** The bwrap executable. Default `bwrap` from PATH. */
  readonly bubblewrapPath?: string;
  /** Size of a sandboxed service's private /tmp. Default 1 GiB (a disposable's /tmp on Qubes). */
  readonly sandboxTmpBytes?: number;
  /** Holds `admin.vm.volume.Import.mjs` and `admin.vm.volume.ImportWithSize.mjs`. Default `<repo>/sim/bin`. */
  readonly importScriptDir?: string;
  readonly logger?: Logger;
}

export interface QrexecDaemon {
  readonly socketPath: string;
  /** True when services run under bubblewrap. */
  readonly sandboxed: boolean;
  /** Disposables created for calls still in progress. */
  activeDisposables(): string[];
  /**
   * Kills every service running in `vm` (its callers see the service die). Wire it to the Admin
   * API daemon's onStop hook so that admin.vm.Kill/Shutdown stop a VM's processes too.
   */
  stopVm(vm: string): void;
  /** Stops listening, ends every call (killing its disposable) and waits for the clean-up. */
  close(): Promise<void>;
}

function askAnswerFromEnv(): AskAnswer {
  return process.env.TMPL_SIM_ASK === 'allow' ? 'allow' : 'deny';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type CallHello = Extract<Hello, { kind: 'call' }>;
type ExecHello = Extract<Hello, { kind: 'exec' }>;

/** A call to run in a VM, with the system as it was when the call was decided. */
interface VmCall extends ServiceCall {
  readonly vm: string;
  readonly info: SystemInfo;
}

/** The daemon; `startQrexecDaemon` makes one and waits until it listens. */
export class SimQrexecDaemon implements QrexecDaemon {
  readonly socketPath: string;
  readonly #options: QrexecDaemonOptions;
  readonly #launch: LaunchSettings;
  readonly #policyDirs: readonly string[];
  /** Holds the per-call sockets of VM services. */
  readonly #socketRoot: string;
  readonly #connections = new Set<Promise<void>>();
  readonly #servers = new Set<net.Server>();
  readonly #disposables = new Set<string>();
  readonly #liveConnections = new Set<ClientConnection>();
  /** The services running in each VM, for stopVm. */
  readonly #running = new Map<string, Set<Endpoint>>();
  #callCounter = 0;
  #main: net.Server | null = null;

  constructor(options: QrexecDaemonOptions) {
    this.#options = options;
    const repoRoot = options.repoRoot ?? REPO_ROOT;
    this.socketPath = options.socketPath ?? path.join(options.dir, QREXEC_SOCKET_NAME);
    this.#policyDirs = options.policyDirs ?? [
      path.join(options.dir, 'policy.d'),
      REPO_POLICY_DIR,
      BASE_POLICY_DIR,
    ];
    this.#launch = {
      stateDir: options.dir,
      adminSocketPath: options.adminSocketPath,
      repoRoot,
      importScriptDir: options.importScriptDir ?? path.join(repoRoot, 'sim/bin'),
      tmpBytes: options.sandboxTmpBytes ?? DEFAULT_SANDBOX_TMP_BYTES,
      probe: this.#probeSandbox(repoRoot),
    };
    this.#socketRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpl-qrexec-'));
  }

  get sandboxed(): boolean {
    return this.#launch.probe.available;
  }

  /** Starts listening on the socket (replacing a stale one). */
  async listen(): Promise<void> {
    fs.rmSync(this.socketPath, { force: true });
    const main = net.createServer((socket) => this.#accept(socket, null));
    this.#main = main;
    await new Promise<void>((resolve, reject) => {
      main.once('error', reject);
      main.listen(this.socketPath, resolve);
    });
  }

  activeDisposables(): string[] {
    return [...this.#disposables];
  }

  stopVm(vm: string): void {
    for (const endpoint of this.#running.get(vm) ?? []) endpoint.kill();
  }

  async close(): Promise<void> {
    this.#main?.close();
    for (const server of this.#servers) server.close();
    for (const conn of this.#liveConnections) conn.abort();
    await Promise.all([...this.#connections]);
    fs.rmSync(this.#socketRoot, { recursive: true, force: true });
    fs.rmSync(this.socketPath, { force: true });
  }

  #probeSandbox(repoRoot: string): BubblewrapProbe {
    const options = this.#options;
    if (options.sandbox === 'none') return { available: false, path: 'bwrap', reason: 'disabled' };
    const probe = probeBubblewrap(repoRoot, options.bubblewrapPath);
    if (!probe.available) {
      if (options.sandbox === 'bubblewrap') {
        throw new QrexecError('qrexec.service', `bubblewrap does not work here: ${probe.reason}`);
      }
      this.#warn(
        `bubblewrap unavailable (${probe.reason}); VM services run as plain processes WITHOUT isolation`,
      );
    }
    return probe;
  }

  #warn(text: string): void {
    if (this.#options.logger) this.#options.logger.warn(text);
    else process.stderr.write(`tmpl-sim qrexec: warning: ${text}\n`);
  }

  #admin(method: string, dest: string, arg?: string): Promise<string> {
    return adminCall({ socketPath: this.#options.adminSocketPath, method, dest, arg });
  }

  #systemInfo(): Promise<SystemInfo> {
    return fetchSystemInfo(this.#options.adminSocketPath);
  }

  /** A per-call socket for a VM's service, so calls it makes are attributed to that VM. */
  async #vmSocket(vm: string): Promise<{ dir: string; server: net.Server }> {
    const dir = path.join(this.#socketRoot, `${vm}-${++this.#callCounter}`);
    fs.mkdirSync(dir, { mode: 0o700 });
    const server = net.createServer((socket) => this.#accept(socket, vm));
    this.#servers.add(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path.join(dir, QREXEC_SOCKET_NAME), resolve);
    });
    return { dir, server };
  }

  async #runVmService(conn: ClientConnection, call: VmCall): Promise<number> {
    const { vm, service } = call;
    const table = readServiceTable(this.#options.dir);
    const entry = lookupService(table, call.info, vm, service, this.#launch.repoRoot);
    if (!entry) {
      return conn.run(failureEndpoint(EXIT_SERVICE_NOT_FOUND, `${vm}: service ${service} not found`));
    }
    const { dir, server } = await this.#vmSocket(vm);
    const rpcServices = listServices(table, call.info, vm, this.#launch.repoRoot);
    const endpoint = vmServiceEndpoint(this.#launch, call, { vm, entry, socketDir: dir, rpcServices });
    const inVm = this.#running.get(vm) ?? new Set<Endpoint>();
    this.#running.set(vm, inVm.add(endpoint));
    try {
      return await conn.run(endpoint);
    } finally {
      inVm.delete(endpoint);
      if (inVm.size === 0 && this.#running.get(vm) === inVm) this.#running.delete(vm);
      this.#servers.delete(server);
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  async #runInDisposable(conn: ClientConnection, template: string, call: ServiceCall): Promise<number> {
    let name: string;
    try {
      name = (await this.#admin('admin.vm.CreateDisposable', template)).trim();
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `cannot create a disposable from ${template}: ${message(error)}`);
      return EXIT_PROBLEM;
    }
    this.#disposables.add(name);
    try {
      if (conn.closed) return EXIT_PROBLEM;
      await this.#admin('admin.vm.Start', name);
      if (conn.closed) return EXIT_PROBLEM;
      const info = await this.#systemInfo();
      return await this.#runVmService(conn, { ...call, vm: name, info });
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `disposable ${name}: ${message(error)}`);
      return EXIT_PROBLEM;
    } finally {
      // Kill removes a running disposable (auto_cleanup); one that never started is removed.
      await this.#admin('admin.vm.Kill', name)
        .catch(() => this.#admin('admin.vm.Remove', name))
        .catch((error: unknown) => this.#warn(`cannot remove disposable ${name}: ${message(error)}`));
      this.#disposables.delete(name);
    }
  }

  /** The policy's decision on a call, or null after refusing it. */
  #decide(
    conn: ClientConnection,
    call: ServiceCall,
    target: string,
    info: SystemInfo,
  ): PolicyDecision | null {
    const { service, argument, source } = call;
    try {
      const rules = loadPolicyDirs(this.#policyDirs);
      const answer = this.#options.askAnswer ?? askAnswerFromEnv();
      const decision = evaluatePolicy(rules, { service, argument, source, target }, info, answer);
      const rule = `${decision.rule.file}:${decision.rule.line}`;
      this.#options.logger?.info(
        { service, argument, source, target: decision.target, rule },
        'qrexec call allowed',
      );
      return decision;
    } catch (error) {
      this.#options.logger?.info(
        { service, argument, source, target, reason: message(error) },
        'qrexec call refused',
      );
      if (!(error instanceof AccessDenied)) this.#warn(`policy error, call refused: ${message(error)}`);
      conn.fail(EXIT_REFUSED, 'Request refused');
      return null;
    }
  }

  async #handleCall(conn: ClientConnection, hello: CallHello, boundVm: string | null): Promise<void> {
    // On a VM's own socket the channel is the identity (a real VM's qrexec-client-vm has no
    // say in its source); whatever `source` the client claims there is ignored.
    const source = boundVm ?? hello.source ?? 'mgmt';
    const call = { ...splitServiceCall(hello.service), source };
    let info: SystemInfo;
    try {
      info = await this.#systemInfo();
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `qrexec: cannot reach the Admin API: ${message(error)}`);
      return;
    }
    if (!info.domains.has(source)) {
      conn.fail(EXIT_PROBLEM, `qrexec: unknown source VM ${source}`);
      return;
    }
    const decision = this.#decide(conn, call, hello.target, info);
    if (decision === null) return;
    if (decision.target === 'dom0') {
      await conn.run(dom0Endpoint(this.#launch, call, decision.intendedTarget));
      return;
    }
    if (decision.target.startsWith('@dispvm:')) {
      await this.#runInDisposable(conn, decision.target.slice('@dispvm:'.length), call);
      return;
    }
    if (info.domains.get(decision.target)?.powerState !== 'Running') {
      try {
        await this.#admin('admin.vm.Start', decision.target);
        info = await this.#systemInfo();
      } catch (error) {
        conn.fail(EXIT_PROBLEM, `cannot start ${decision.target}: ${message(error)}`);
        return;
      }
    }
    await this.#runVmService(conn, { ...call, vm: decision.target, info });
  }

  async #handleExec(conn: ClientConnection, hello: ExecHello): Promise<void> {
    const call = { ...splitServiceCall(hello.service), source: hello.source };
    if (hello.domain === 'dom0') {
      await conn.run(dom0Endpoint(this.#launch, call, 'dom0'));
      return;
    }
    let info: SystemInfo;
    try {
      info = await this.#systemInfo();
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `qrexec-client: cannot reach the Admin API: ${message(error)}`);
      return;
    }
    const domain = info.domains.get(hello.domain);
    if (domain?.powerState !== 'Running') {
      conn.fail(
        EXIT_PROBLEM,
        `qrexec-client: domain ${hello.domain} is ${domain ? 'not running' : 'unknown'}`,
      );
      return;
    }
    await this.#runVmService(conn, { ...call, vm: hello.domain, info });
  }

  async #serve(socket: net.Socket, boundVm: string | null): Promise<void> {
    const conn = new ClientConnection(socket);
    this.#liveConnections.add(conn);
    try {
      const payload = await conn.hello();
      if (payload === null) return;
      let hello: Hello;
      try {
        hello = parseHello(payload);
      } catch (error) {
        conn.fail(EXIT_PROBLEM, `qrexec: bad request: ${message(error)}`);
        return;
      }
      if (hello.kind === 'call') await this.#handleCall(conn, hello, boundVm);
      // dom0's qrexec-client path: not from a VM's own socket.
      else if (boundVm !== null) conn.fail(EXIT_REFUSED, 'Request refused');
      else await this.#handleExec(conn, hello);
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `qrexec: ${message(error)}`);
    } finally {
      this.#liveConnections.delete(conn);
    }
  }

  #accept(socket: net.Socket, boundVm: string | null): void {
    const task = this.#serve(socket, boundVm).catch((error: unknown) =>
      this.#warn(`connection failed: ${message(error)}`),
    );
    this.#connections.add(task);
    void task.finally(() => this.#connections.delete(task));
  }
}

/** Starts the daemon: it listens on its socket when this resolves. */
export async function startQrexecDaemon(options: QrexecDaemonOptions): Promise<QrexecDaemon> {
  const daemon = new SimQrexecDaemon(options);
  await daemon.listen();
  return daemon;
}
