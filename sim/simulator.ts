/**
 * Qubes in a box: the simulated qubesd (sim/admin) and qrexec (sim/qrexec) sharing one state
 * directory, plus the environment that points tmpl at them (DEVELOPERS.md).
 *
 * Run as a program (`node bin/run-ts.mjs sim/simulator.ts --dir DIR [--seed]`) it serves until
 * SIGTERM and writes the environment to DIR/sim.env.json once everything listens; this is what
 * `tmpl-sim up` starts in the background.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { seedState, startAdminDaemon, type AdminDaemon } from './admin/index.ts';
import type { DisposableTiming } from './admin/disposables.ts';
import { statePath } from './admin/state.ts';
import { startQrexecDaemon, type QrexecDaemon } from './qrexec/index.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SIM_BIN_DIR = path.join(REPO_ROOT, 'sim/bin');
export const ADMIN_SOCKET_NAME = 'qubesd.sock';
export const QREXEC_SERVICES_DIR_NAME = 'qubes-rpc';
/** Written by the server entry once both daemons listen; `tmpl-sim up` waits for it. */
export const READY_FILE = 'sim.env.json';
/**
 * The Qubes release the simulator plays (a real dom0 has it in /etc/qubes-release; tmpl reads
 * TMPL_RELEASEVER when the system does not tell). 4.3: admin.vm.CurrentState, preloaded disposables.
 */
export const SIM_RELEASEVER = '4.3';

export interface SimulatorOptions {
  readonly dir: string;
  /** Replace any state in `dir` with the seed installation (also done when there is none). */
  readonly seed?: boolean;
  readonly logger?: Logger;
  /** Start the qrexec daemon too (default true). */
  readonly qrexec?: boolean;
  /** What disposables cost; default from TMPL_SIM_DISPVM_START_MS etc. (sim/admin/disposables.ts). */
  readonly dispvmTiming?: DisposableTiming;
}

export interface Simulator {
  /** TMPL_* variables (and the simulator's own) pointing tmpl at this simulator. */
  readonly env: Record<string, string>;
  readonly admin: AdminDaemon;
  readonly qrexec: QrexecDaemon | null;
  close(): Promise<void>;
}

/** dom0's /etc/qubes-rpc: the import services under their Qubes names. */
async function installServices(dir: string): Promise<string> {
  const services = path.join(dir, QREXEC_SERVICES_DIR_NAME);
  await fs.mkdir(services, { recursive: true });
  for (const name of ['admin.vm.volume.Import', 'admin.vm.volume.ImportWithSize']) {
    const link = path.join(services, name);
    await fs.rm(link, { force: true });
    await fs.symlink(path.join(SIM_BIN_DIR, `${name}.mjs`), link);
  }
  return services;
}

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const dir = path.resolve(options.dir);
  const logger = options.logger ?? pino({ level: 'silent' });
  await fs.mkdir(dir, { recursive: true });
  const hasState = await fs.stat(statePath(dir)).then(
    () => true,
    () => false,
  );
  if (options.seed || !hasState) await seedState(dir);
  const services = await installServices(dir);
  const admin = await startAdminDaemon({
    dir,
    socketPath: path.join(dir, ADMIN_SOCKET_NAME),
    logger: logger.child({ daemon: 'qubesd' }),
    // Starting the simulator is booting the machine: no qube survives it running.
    boot: true,
    ...(options.dispvmTiming ? { dispvmTiming: options.dispvmTiming } : {}),
  });
  let qrexec: QrexecDaemon | null = null;
  if (options.qrexec !== false) {
    try {
      qrexec = await startQrexecDaemon({
        dir,
        adminSocketPath: admin.socketPath,
        importScriptDir: SIM_BIN_DIR,
        logger: logger.child({ daemon: 'qrexec' }),
      });
    } catch (error) {
      await admin.close();
      throw error;
    }
  }
  const env: Record<string, string> = {
    TMPL_QUBESD_SOCKET: admin.socketPath,
    TMPL_VOLUME_IMPORT: path.join(services, 'admin.vm.volume.Import'),
    TMPL_QREXEC_SERVICES_DIR: services,
    TMPL_QREXEC_CLIENT: path.join(SIM_BIN_DIR, 'qrexec-client.mjs'),
    TMPL_QREXEC_CLIENT_VM: path.join(SIM_BIN_DIR, 'qrexec-client-vm.mjs'),
    TMPL_QUBESDB_READ: path.join(SIM_BIN_DIR, 'qubesdb-read.mjs'),
    TMPL_MODE: 'dom0',
    TMPL_RELEASEVER: SIM_RELEASEVER,
    TMPL_SIM_DIR: dir,
    ...(qrexec ? { TMPL_SIM_QREXEC_SOCKET: qrexec.socketPath } : {}),
  };
  return {
    env,
    admin,
    qrexec,
    async close() {
      if (qrexec) await qrexec.close();
      await admin.close();
    },
  };
}

/** The server entry: `--dir DIR [--seed]`, serving until SIGTERM or SIGINT. */
async function serve(argv: readonly string[]): Promise<void> {
  const dirIndex = argv.indexOf('--dir');
  const dir = dirIndex >= 0 ? argv[dirIndex + 1] : undefined;
  if (!dir) throw new Error('usage: simulator.ts --dir DIR [--seed]');
  const logger = pino({ level: process.env.TMPL_SIM_LOG_LEVEL ?? 'info' }, pino.destination(2));
  const ready = path.join(path.resolve(dir), READY_FILE);
  await fs.rm(ready, { force: true });
  const sim = await startSimulator({ dir, seed: argv.includes('--seed'), logger });
  await fs.writeFile(`${ready}.tmp`, JSON.stringify(sim.env));
  await fs.rename(`${ready}.tmp`, ready);
  logger.info({ pid: process.pid }, 'simulator ready');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info('simulator stopping');
    void sim
      .close()
      .then(() => fs.rm(ready, { force: true }))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  serve(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`simulator: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
