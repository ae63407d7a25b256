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
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { adminCall, fetchSystemInfo } from './admin-call.ts';
import { ClientConnection } from './connection.ts';
import {
  adminSocketEndpoint,
  failureEndpoint,
  inProcessEndpoint,
  spawnEndpoint,
  type Endpoint,
} from './endpoints.ts';
import { AccessDenied, QrexecError } from './errors.ts';
import { applyFeaturesRequest, MAX_FEATURES_REQUEST_BYTES } from './features-request.ts';
import { parseHello, splitServiceCall, type Hello } from './hello.ts';
import { DEFAULT_SANDBOX_TMP_BYTES } from './limits.ts';
import { evaluatePolicy, type AskAnswer } from './policy-evaluate.ts';
import { loadPolicyDirs } from './policy-loader.ts';
import type { SystemInfo } from './policy-tokens.ts';
import { bubblewrapArgs, probeBubblewrap, SANDBOX_QREXEC_DIR, type BubblewrapProbe } from './sandbox.ts';
import { listServices, lookupService, readServiceTable } from './service-table.ts';

export const QREXEC_SOCKET_NAME = 'qrexec.sock';
export const EXIT_REFUSED = 126;
export const EXIT_PROBLEM = 125;
export const EXIT_SERVICE_NOT_FOUND = 127;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BASE_POLICY_DIR = path.join(REPO_ROOT, 'sim/qrexec/base-policy');
export const REPO_POLICY_DIR = path.join(REPO_ROOT, 'qrexec-policy');

/** The PATH a VM's service starts with, as in a template. */
const VM_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];
/**
 * The simulated templates have the Node.js the simulator runs on: when that is not one of the
 * system's (a Node from a version manager or from the registry, as in the Node 22 test run), its
 * directory comes first in a service's PATH and the binary is bound read-only into the sandbox,
 * so `node` in a VM (tmpl.Worker's `exec node ...`) and argv naming process.execPath both run it.
 */
const VM_NODE_DIR = VM_PATH.includes(path.dirname(process.execPath)) ? null : path.dirname(process.execPath);

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

export async function startQrexecDaemon(options: QrexecDaemonOptions): Promise<QrexecDaemon> {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const socketPath = options.socketPath ?? path.join(options.dir, QREXEC_SOCKET_NAME);
  const policyDirs = options.policyDirs ?? [
    path.join(options.dir, 'policy.d'),
    REPO_POLICY_DIR,
    BASE_POLICY_DIR,
  ];
  const importScriptDir = options.importScriptDir ?? path.join(repoRoot, 'sim/bin');
  const tmpBytes = options.sandboxTmpBytes ?? DEFAULT_SANDBOX_TMP_BYTES;
  const log = options.logger;
  const warn = (text: string): void => {
    if (log) log.warn(text);
    else process.stderr.write(`tmpl-sim qrexec: warning: ${text}\n`);
  };

  let probe: BubblewrapProbe = { available: false, path: 'bwrap', reason: 'disabled' };
  if (options.sandbox !== 'none') {
    probe = probeBubblewrap(repoRoot, options.bubblewrapPath);
    if (!probe.available) {
      if (options.sandbox === 'bubblewrap') {
        throw new QrexecError('qrexec.service', `bubblewrap does not work here: ${probe.reason}`);
      }
      warn(`bubblewrap unavailable (${probe.reason}); VM services run as plain processes WITHOUT isolation`);
    }
  }
  const socketRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpl-qrexec-'));
  const connections = new Set<Promise<void>>();
  const servers = new Set<net.Server>();
  const disposables = new Set<string>();
  const liveConnections = new Set<ClientConnection>();
  const running = new Map<string, Set<Endpoint>>();
  let callCounter = 0;

  const admin = (method: string, dest: string, arg?: string): Promise<string> =>
    adminCall({ socketPath: options.adminSocketPath, method, dest, arg });

  /** A per-call socket for a VM's service, so calls it makes are attributed to that VM. */
  async function vmSocket(vm: string): Promise<{ dir: string; server: net.Server }> {
    const dir = path.join(socketRoot, `${vm}-${++callCounter}`);
    fs.mkdirSync(dir, { mode: 0o700 });
    const server = net.createServer((socket) => accept(socket, vm));
    servers.add(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path.join(dir, QREXEC_SOCKET_NAME), resolve);
    });
    return { dir, server };
  }

  async function runVmService(
    conn: ClientConnection,
    info: SystemInfo,
    vm: string,
    service: string,
    argument: string,
    source: string,
  ): Promise<number> {
    const table = readServiceTable(options.dir);
    const entry = lookupService(table, info, vm, service, repoRoot);
    if (!entry) {
      return conn.run(failureEndpoint(EXIT_SERVICE_NOT_FOUND, `${vm}: service ${service} not found`));
    }
    const arg = argument.slice(1);
    const { dir, server } = await vmSocket(vm);
    const sandboxed = probe.available;
    const qrexecSocket = path.join(sandboxed ? SANDBOX_QREXEC_DIR : dir, QREXEC_SOCKET_NAME);
    const env: Record<string, string> = {
      PATH: (VM_NODE_DIR === null ? VM_PATH : [VM_NODE_DIR, ...VM_PATH]).join(':'),
      HOME: sandboxed ? '/tmp' : os.tmpdir(),
      LANG: 'C.UTF-8',
      QREXEC_REMOTE_DOMAIN: source,
      QREXEC_SERVICE_FULL_NAME: `${service}${argument === '+' ? '' : argument}`,
      TMPL_SIM_VM_NAME: vm,
      TMPL_SIM_SOURCE_VM: vm,
      TMPL_SIM_QREXEC_SOCKET: qrexecSocket,
      TMPL_QREXEC_CLIENT_VM: path.join(repoRoot, 'sim/bin/qrexec-client-vm.mjs'),
      // The qube's /etc/qubes-rpc, for its qubes.PostInstall to report as supported-rpc.* features.
      TMPL_SIM_RPC_SERVICES: listServices(table, info, vm, repoRoot).join(' '),
      ...(arg !== '' ? { QREXEC_SERVICE_ARGUMENT: arg } : {}),
      ...entry.env,
    };
    const argv = [...entry.argv, ...(arg !== '' ? [arg] : [])];
    const endpoint = sandboxed
      ? spawnEndpoint(
          probe.path,
          bubblewrapArgs(
            {
              repoRoot,
              hide: [options.dir],
              tmpBytes,
              readOnlyBinds: [
                ...(entry.readOnlyBinds ?? []),
                ...(VM_NODE_DIR === null ? [] : [process.execPath]),
              ],
              qrexecDir: dir,
            },
            argv,
          ),
          { env },
        )
      : spawnEndpoint(argv[0]!, argv.slice(1), { env, cwd: os.tmpdir() });
    const inVm = running.get(vm) ?? new Set<Endpoint>();
    running.set(vm, inVm.add(endpoint));
    try {
      return await conn.run(endpoint);
    } finally {
      inVm.delete(endpoint);
      if (inVm.size === 0 && running.get(vm) === inVm) running.delete(vm);
      servers.delete(server);
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  function dom0Service(service: string, argument: string, source: string, intended: string): Endpoint {
    const requested = intended === '@default' || intended === '@adminvm' ? 'dom0' : intended;
    if (service === 'admin.vm.volume.Import' || service === 'admin.vm.volume.ImportWithSize') {
      return spawnEndpoint(
        process.execPath,
        [path.join(importScriptDir, `${service}.mjs`), argument.slice(1)],
        {
          env: {
            ...process.env,
            QREXEC_REMOTE_DOMAIN: source,
            QREXEC_REQUESTED_TARGET: requested,
            QREXEC_REQUESTED_TARGET_TYPE: 'name',
            QREXEC_SERVICE_FULL_NAME: `${service}${argument}`,
            QREXEC_SERVICE_ARGUMENT: argument.slice(1),
            TMPL_SIM_DIR: options.dir,
            TMPL_QUBESD_SOCKET: options.adminSocketPath,
          },
        },
      );
    }
    if (service.startsWith('admin.')) {
      const header = Buffer.from(`${service}${argument} ${source} name ${requested}\0`, 'ascii');
      return adminSocketEndpoint(options.adminSocketPath, header);
    }
    if (service === 'qubes.FeaturesRequest') {
      return inProcessEndpoint(MAX_FEATURES_REQUEST_BYTES, async (input, _stdout, stderr) => {
        const rejected = await applyFeaturesRequest(options.adminSocketPath, source, input);
        if (rejected.length > 0) stderr.write(`ignored feature requests: ${rejected.join(' ')}\n`);
        return 0;
      });
    }
    return failureEndpoint(EXIT_SERVICE_NOT_FOUND, `dom0: service ${service} not found`);
  }

  async function runInDisposable(
    conn: ClientConnection,
    template: string,
    service: string,
    argument: string,
    source: string,
  ): Promise<number> {
    let name: string;
    try {
      name = (await admin('admin.vm.CreateDisposable', template)).trim();
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `cannot create a disposable from ${template}: ${message(error)}`);
      return EXIT_PROBLEM;
    }
    disposables.add(name);
    try {
      if (conn.closed) return EXIT_PROBLEM;
      await admin('admin.vm.Start', name);
      if (conn.closed) return EXIT_PROBLEM;
      const info = await fetchSystemInfo(options.adminSocketPath);
      return await runVmService(conn, info, name, service, argument, source);
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `disposable ${name}: ${message(error)}`);
      return EXIT_PROBLEM;
    } finally {
      // Kill removes a running disposable (auto_cleanup); one that never started is removed.
      await admin('admin.vm.Kill', name)
        .catch(() => admin('admin.vm.Remove', name))
        .catch((error: unknown) => warn(`cannot remove disposable ${name}: ${message(error)}`));
      disposables.delete(name);
    }
  }

  async function handleCall(
    conn: ClientConnection,
    hello: Extract<Hello, { kind: 'call' }>,
    boundVm: string | null,
  ): Promise<void> {
    // On a VM's own socket the channel is the identity (a real VM's qrexec-client-vm has no
    // say in its source); whatever `source` the client claims there is ignored.
    const source = boundVm ?? hello.source ?? 'mgmt';
    const { service, argument } = splitServiceCall(hello.service);
    let info: SystemInfo;
    try {
      info = await fetchSystemInfo(options.adminSocketPath);
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `qrexec: cannot reach the Admin API: ${message(error)}`);
      return;
    }
    if (!info.domains.has(source)) {
      conn.fail(EXIT_PROBLEM, `qrexec: unknown source VM ${source}`);
      return;
    }
    let decision;
    try {
      const rules = loadPolicyDirs(policyDirs);
      decision = evaluatePolicy(
        rules,
        { service, argument, source, target: hello.target },
        info,
        options.askAnswer ?? askAnswerFromEnv(),
      );
    } catch (error) {
      log?.info(
        { service, argument, source, target: hello.target, reason: message(error) },
        'qrexec call refused',
      );
      if (!(error instanceof AccessDenied)) warn(`policy error, call refused: ${message(error)}`);
      conn.fail(EXIT_REFUSED, 'Request refused');
      return;
    }
    log?.info(
      {
        service,
        argument,
        source,
        target: decision.target,
        rule: `${decision.rule.file}:${decision.rule.line}`,
      },
      'qrexec call allowed',
    );
    if (decision.target === 'dom0') {
      await conn.run(dom0Service(service, argument, source, decision.intendedTarget));
      return;
    }
    if (decision.target.startsWith('@dispvm:')) {
      await runInDisposable(conn, decision.target.slice('@dispvm:'.length), service, argument, source);
      return;
    }
    const target = info.domains.get(decision.target);
    if (target?.powerState !== 'Running') {
      try {
        await admin('admin.vm.Start', decision.target);
        info = await fetchSystemInfo(options.adminSocketPath);
      } catch (error) {
        conn.fail(EXIT_PROBLEM, `cannot start ${decision.target}: ${message(error)}`);
        return;
      }
    }
    await runVmService(conn, info, decision.target, service, argument, source);
  }

  async function handleExec(conn: ClientConnection, hello: Extract<Hello, { kind: 'exec' }>): Promise<void> {
    const { service, argument } = splitServiceCall(hello.service);
    if (hello.domain === 'dom0') {
      await conn.run(dom0Service(service, argument, hello.source, 'dom0'));
      return;
    }
    let info: SystemInfo;
    try {
      info = await fetchSystemInfo(options.adminSocketPath);
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
    await runVmService(conn, info, hello.domain, service, argument, hello.source);
  }

  async function serve(socket: net.Socket, boundVm: string | null): Promise<void> {
    const conn = new ClientConnection(socket);
    liveConnections.add(conn);
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
      if (hello.kind === 'exec') {
        if (boundVm !== null) {
          conn.fail(EXIT_REFUSED, 'Request refused');
          return;
        }
        await handleExec(conn, hello);
      } else {
        await handleCall(conn, hello, boundVm);
      }
    } catch (error) {
      conn.fail(EXIT_PROBLEM, `qrexec: ${message(error)}`);
    } finally {
      liveConnections.delete(conn);
    }
  }

  function accept(socket: net.Socket, boundVm: string | null): void {
    const task = serve(socket, boundVm).catch((error: unknown) =>
      warn(`connection failed: ${message(error)}`),
    );
    connections.add(task);
    void task.finally(() => connections.delete(task));
  }

  fs.rmSync(socketPath, { force: true });
  const main = net.createServer((socket) => accept(socket, null));
  await new Promise<void>((resolve, reject) => {
    main.once('error', reject);
    main.listen(socketPath, resolve);
  });

  return {
    socketPath,
    sandboxed: probe.available,
    activeDisposables: () => [...disposables],
    stopVm(vm: string) {
      for (const endpoint of running.get(vm) ?? []) endpoint.kill();
    },
    async close() {
      main.close();
      for (const server of servers) server.close();
      for (const conn of liveConnections) conn.abort();
      await Promise.all([...connections]);
      fs.rmSync(socketRoot, { recursive: true, force: true });
      fs.rmSync(socketPath, { force: true });
    },
  };
}
