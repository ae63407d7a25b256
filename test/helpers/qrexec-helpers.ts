/** A simulator with the real Admin API daemon and the qrexec daemon, for the qrexec tests. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedState, startAdminDaemon, type AdminDaemon, type PowerHooks } from '../../sim/admin/index.ts';
import { startQrexecDaemon, type QrexecDaemon, type QrexecDaemonOptions } from '../../sim/qrexec/index.ts';
import { adminCall } from '../../sim/qrexec/admin-call.ts';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const CLIENT_VM = path.join(REPO, 'sim/bin/qrexec-client-vm.mjs');
export const CLIENT_DOM0 = path.join(REPO, 'sim/bin/qrexec-client.mjs');

export interface Sim {
  readonly dir: string;
  readonly adminSocket: string;
  readonly admin: AdminDaemon;
  readonly qrexec: QrexecDaemon;
  call(method: string, dest: string, arg?: string, payload?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startSim(options: Partial<QrexecDaemonOptions> = {}, hooks?: PowerHooks): Promise<Sim> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qrx-'));
  await seedState(dir);
  const adminSocket = path.join(dir, 'qubesd.sock');
  const admin = await startAdminDaemon({ dir, socketPath: adminSocket, hooks });
  const qrexec = await startQrexecDaemon({ dir, adminSocketPath: adminSocket, ...options });
  fs.mkdirSync(path.join(dir, 'policy.d'), { recursive: true });
  return {
    dir,
    adminSocket,
    admin,
    qrexec,
    call: (method, dest, arg, payload) =>
      adminCall({
        socketPath: adminSocket,
        method,
        dest,
        arg,
        payload: payload === undefined ? undefined : Buffer.from(payload),
      }),
    async close() {
      await qrexec.close();
      await admin.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly stderrBytes: Buffer;
}

/** Runs a client executable with `input` on stdin. */
export function runClient(
  program: string,
  args: readonly string[],
  env: Record<string, string>,
  input: Buffer | string = '',
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, ...args], {
      env: { ...process.env, ...env },
      stdio: 'pipe',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('close', (status) =>
      resolve({
        status,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        stderrBytes: Buffer.concat(err),
      }),
    );
  });
}

/** Writes the service table JSON of the simulator. */
export function writeServiceTable(dir: string, vms: Record<string, Record<string, unknown>>): void {
  fs.writeFileSync(path.join(dir, 'qrexec-services.json'), JSON.stringify({ vms }));
}

/** Writes a test policy file into the simulator's runtime policy directory. */
export function writePolicy(dir: string, name: string, text: string): void {
  fs.writeFileSync(path.join(dir, 'policy.d', name), text);
}
