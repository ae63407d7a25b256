/**
 * How the simulator's qrexec daemon (daemon.ts) runs an allowed call's service: the endpoint of
 * a dom0 service (the import scripts, qubesd's socket, qubes.FeaturesRequest), and the process of
 * a VM's service with the environment a qrexec agent gives it, under bubblewrap when available.
 */
import os from 'node:os';
import path from 'node:path';
import {
  adminSocketEndpoint,
  failureEndpoint,
  inProcessEndpoint,
  spawnEndpoint,
  type Endpoint,
} from './endpoints.ts';
import { applyFeaturesRequest, MAX_FEATURES_REQUEST_BYTES } from './features-request.ts';
import { bubblewrapArgs, SANDBOX_QREXEC_DIR, type BubblewrapProbe } from './sandbox.ts';
import type { ServiceEntry } from './service-table.ts';

export const QREXEC_SOCKET_NAME = 'qrexec.sock';
export const EXIT_SERVICE_NOT_FOUND = 127;

/** The PATH a VM's service starts with, as in a template. */
const VM_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];
/**
 * The simulated templates have the Node.js the simulator runs on: when that is not one of the
 * system's (a Node from a version manager or from the registry, as in the Node 22 test run), its
 * directory comes first in a service's PATH and the binary is bound read-only into the sandbox,
 * so `node` in a VM (tmpl.Worker's `exec node ...`) and argv naming process.execPath both run it.
 */
const VM_NODE_DIR = VM_PATH.includes(path.dirname(process.execPath)) ? null : path.dirname(process.execPath);

/** One service call: `argument` is `+` or `+ARG`, as qrexec splits `service+ARG`. */
export interface ServiceCall {
  readonly service: string;
  readonly argument: string;
  /** The calling VM. */
  readonly source: string;
}

/** What the daemon knows that a launch needs. */
export interface LaunchSettings {
  /** The simulator's state directory (hidden from sandboxed services). */
  readonly stateDir: string;
  readonly adminSocketPath: string;
  readonly repoRoot: string;
  readonly importScriptDir: string;
  readonly tmpBytes: number;
  readonly probe: BubblewrapProbe;
}

/** A dom0 service: `intended` is the target the caller asked for (@default, @adminvm, a name). */
export function dom0Endpoint(settings: LaunchSettings, call: ServiceCall, intended: string): Endpoint {
  const { service, argument, source } = call;
  const requested = intended === '@default' || intended === '@adminvm' ? 'dom0' : intended;
  if (service === 'admin.vm.volume.Import' || service === 'admin.vm.volume.ImportWithSize') {
    return spawnEndpoint(
      process.execPath,
      [path.join(settings.importScriptDir, `${service}.mjs`), argument.slice(1)],
      {
        env: {
          ...process.env,
          QREXEC_REMOTE_DOMAIN: source,
          QREXEC_REQUESTED_TARGET: requested,
          QREXEC_REQUESTED_TARGET_TYPE: 'name',
          QREXEC_SERVICE_FULL_NAME: `${service}${argument}`,
          QREXEC_SERVICE_ARGUMENT: argument.slice(1),
          TMPL_SIM_DIR: settings.stateDir,
          TMPL_QUBESD_SOCKET: settings.adminSocketPath,
        },
      },
    );
  }
  if (service.startsWith('admin.')) {
    const header = Buffer.from(`${service}${argument} ${source} name ${requested}\0`, 'ascii');
    return adminSocketEndpoint(settings.adminSocketPath, header);
  }
  if (service === 'qubes.FeaturesRequest') {
    return inProcessEndpoint(MAX_FEATURES_REQUEST_BYTES, async (input, _stdout, stderr) => {
      const rejected = await applyFeaturesRequest(settings.adminSocketPath, source, input);
      if (rejected.length > 0) stderr.write(`ignored feature requests: ${rejected.join(' ')}\n`);
      return 0;
    });
  }
  return failureEndpoint(EXIT_SERVICE_NOT_FOUND, `dom0: service ${service} not found`);
}

/** Where a VM's service runs: the VM, its service table entry, and its own qrexec socket's folder. */
export interface VmServicePlace {
  readonly vm: string;
  readonly entry: ServiceEntry;
  readonly socketDir: string;
  /** The qube's /etc/qubes-rpc, for its qubes.PostInstall to report as supported-rpc.* features. */
  readonly rpcServices: readonly string[];
}

/** The environment a qrexec agent gives the service (qrexec-agent's QREXEC_* variables). */
function vmServiceEnv(
  settings: LaunchSettings,
  call: ServiceCall,
  place: VmServicePlace,
): Record<string, string> {
  const sandboxed = settings.probe.available;
  const arg = call.argument.slice(1);
  return {
    PATH: (VM_NODE_DIR === null ? VM_PATH : [VM_NODE_DIR, ...VM_PATH]).join(':'),
    HOME: sandboxed ? '/tmp' : os.tmpdir(),
    LANG: 'C.UTF-8',
    QREXEC_REMOTE_DOMAIN: call.source,
    QREXEC_SERVICE_FULL_NAME: `${call.service}${call.argument === '+' ? '' : call.argument}`,
    TMPL_SIM_VM_NAME: place.vm,
    TMPL_SIM_SOURCE_VM: place.vm,
    TMPL_SIM_QREXEC_SOCKET: path.join(sandboxed ? SANDBOX_QREXEC_DIR : place.socketDir, QREXEC_SOCKET_NAME),
    TMPL_QREXEC_CLIENT_VM: path.join(settings.repoRoot, 'sim/bin/qrexec-client-vm.mjs'),
    TMPL_SIM_RPC_SERVICES: place.rpcServices.join(' '),
    ...(arg !== '' ? { QREXEC_SERVICE_ARGUMENT: arg } : {}),
    ...place.entry.env,
  };
}

/** A VM's service as a process: under bubblewrap when it works, else a plain process. */
export function vmServiceEndpoint(
  settings: LaunchSettings,
  call: ServiceCall,
  place: VmServicePlace,
): Endpoint {
  const arg = call.argument.slice(1);
  const env = vmServiceEnv(settings, call, place);
  const argv = [...place.entry.argv, ...(arg !== '' ? [arg] : [])];
  if (!settings.probe.available) return spawnEndpoint(argv[0]!, argv.slice(1), { env, cwd: os.tmpdir() });
  const sandbox = {
    repoRoot: settings.repoRoot,
    hide: [settings.stateDir],
    tmpBytes: settings.tmpBytes,
    readOnlyBinds: [
      ...(place.entry.readOnlyBinds ?? []),
      ...(VM_NODE_DIR === null ? [] : [process.execPath]),
    ],
    qrexecDir: place.socketDir,
  };
  return spawnEndpoint(settings.probe.path, bubblewrapArgs(sandbox, argv), { env });
}
