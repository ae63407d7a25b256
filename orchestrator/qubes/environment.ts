/**
 * Where the Admin API and qrexec are: dom0 (the qubesd socket) or a VM (qrexec-client-vm).
 * The TMPL_* variables point tmpl at another Qubes, such as the simulator (DEVELOPERS.md).
 */
import { accessSync, constants } from 'node:fs';
import { OrchestratorError } from '../errors.ts';

export interface QubesEnvironment {
  readonly mode: 'dom0' | 'vm';
  readonly qubesdSocket: string;
  readonly qrexecClient: string;
  readonly qrexecClientVm: string;
  /** dom0's qrexec service scripts (admin.vm.volume.ImportWithSize runs from here). */
  readonly qrexecServicesDir: string;
}

const DEFAULTS = {
  qubesdSocket: '/var/run/qubesd.sock',
  qrexecClient: '/usr/lib/qubes/qrexec-client',
  qrexecClientVm: '/usr/bin/qrexec-client-vm',
  qrexecServicesDir: '/etc/qubes-rpc',
};

function exists(path: string, mode: number = constants.F_OK): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** Reads the environment; throws 'qubes.no-admin-api' with a hint when no Admin API is reachable. */
export function resolveQubesEnvironment(env: NodeJS.ProcessEnv): QubesEnvironment {
  const qubesdSocket = env.TMPL_QUBESD_SOCKET ?? DEFAULTS.qubesdSocket;
  const qrexecClient = env.TMPL_QREXEC_CLIENT ?? DEFAULTS.qrexecClient;
  const qrexecClientVm = env.TMPL_QREXEC_CLIENT_VM ?? DEFAULTS.qrexecClientVm;
  const qrexecServicesDir = env.TMPL_QREXEC_SERVICES_DIR ?? DEFAULTS.qrexecServicesDir;
  let mode: 'dom0' | 'vm';
  if (env.TMPL_MODE === 'dom0' || env.TMPL_MODE === 'vm') {
    mode = env.TMPL_MODE;
  } else if (env.TMPL_MODE !== undefined && env.TMPL_MODE !== '') {
    throw new OrchestratorError('usage', `TMPL_MODE must be 'dom0' or 'vm', not '${env.TMPL_MODE}'`);
  } else if (exists(qubesdSocket)) {
    mode = 'dom0';
  } else if (exists(qrexecClientVm, constants.X_OK)) {
    mode = 'vm';
  } else {
    throw new OrchestratorError(
      'qubes.no-admin-api',
      `no Qubes Admin API found: neither ${qubesdSocket} (dom0) nor ${qrexecClientVm} (a management VM) exists.\n` +
        'To try tmpl without Qubes, start the simulator:\n' +
        '  eval "$(npx tmpl-sim up --dir /tmp/tmpl-sim --seed)"\n' +
        'and run tmpl again in that shell (npm run demo shows a whole install).',
    );
  }
  if (mode === 'dom0' && !exists(qubesdSocket)) {
    throw new OrchestratorError('qubes.no-admin-api', `the Admin API socket ${qubesdSocket} does not exist`);
  }
  return { mode, qubesdSocket, qrexecClient, qrexecClientVm, qrexecServicesDir };
}
