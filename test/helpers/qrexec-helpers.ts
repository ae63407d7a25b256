/**
 * A simulator with the real Admin API daemon and the qrexec daemon, for the qrexec tests; and
 * useQrexecSim, which gives a test file one, with a fixtures folder for its services.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
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

/** A file's simulator (startSim) and its fixtures folder; read them only within tests. */
export interface QrexecWorld {
  readonly sim: Sim;
  readonly fixtures: string;
  /** The environment the real clients need to find the simulator. */
  readonly env: Record<string, string>;
}

/**
 * Starts the simulator and makes a fixtures folder (named from `prefix`) before the file's tests,
 * lets `setup` write the file's services and policy there, and removes both after the tests.
 */
export function useQrexecSim(
  prefix: string,
  setup: (sim: Sim, fixtures: string) => Promise<void> | void,
  options: Partial<QrexecDaemonOptions> = {},
): QrexecWorld {
  let sim: Sim | undefined;
  let fixtures: string | undefined;
  let ready = false;
  beforeAll(async () => {
    sim = await startSim(options);
    fixtures = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    await setup(sim, fixtures);
    ready = true;
  });
  afterAll(async () => {
    await sim?.close();
    if (fixtures) fs.rmSync(fixtures, { recursive: true, force: true });
  });
  const get = (): { sim: Sim; fixtures: string } => {
    if (!ready || !sim || !fixtures) throw new Error('the simulator was not started');
    return { sim, fixtures };
  };
  return {
    get sim(): Sim {
      return get().sim;
    },
    get fixtures(): string {
      return get().fixtures;
    },
    get env(): Record<string, string> {
      return { TMPL_SIM_DIR: get().sim.dir };
    },
  };
}
