/** Runs a qrexec service in a VM and waits for it, from dom0 or from a management VM. */
import { spawn } from 'node:child_process';
import { quotedLine } from '../../protocol/display-text.ts';
import { OrchestratorError } from '../errors.ts';
import type { QubesEnvironment } from './environment.ts';

/** Seconds qrexec-client waits for the VM's qrexec agent (its -w option). */
export const QREXEC_CONNECT_TIMEOUT_S = 60;

/** Output kept from a service for the error message. */
const MAX_SERVICE_OUTPUT = 64 * 1024;

export interface VmServiceOptions {
  /** The run's interruption (interrupt.ts): aborting it ends the call. */
  readonly signal?: AbortSignal;
}

export async function runVmService(
  env: QubesEnvironment,
  vm: string,
  service: string,
  options: VmServiceOptions = {},
): Promise<void> {
  const { signal } = options;
  signal?.throwIfAborted();
  const [program, args] =
    env.mode === 'dom0'
      ? [
          env.qrexecClient,
          ['-d', vm, '-w', String(QREXEC_CONNECT_TIMEOUT_S), `DEFAULT:QUBESRPC ${service} dom0`],
        ]
      : [env.qrexecClientVm, [vm, service]];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const onAbort = (): void => void child.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < MAX_SERVICE_OUTPUT) output += chunk.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const status = await new Promise<number>((resolve, reject) => {
    child.once('error', (error) =>
      reject(
        new OrchestratorError('qrexec.failed', `cannot run ${program}: ${error.message}`, { cause: error }),
      ),
    );
    child.once('close', (code, killedBy) => resolve(code ?? (killedBy ? 128 : 1)));
  }).finally(() => signal?.removeEventListener('abort', onAbort));
  // Ended by the interruption, or killed by the same signal as tmpl: not a failure of its own.
  signal?.throwIfAborted();
  if (status === 126)
    throw new OrchestratorError('qrexec.refused', `${service} in ${vm}: refused by qrexec policy`);
  if (status !== 0) {
    throw new OrchestratorError(
      'qrexec.failed',
      `${service} in ${vm} failed (exit ${status})${output.trim() ? ': ' + quotedLine(output.trim().slice(-2000)) : ''}`,
    );
  }
}
