/** `tmpl-sim up --dir DIR [--seed]`: start the simulator in the background, print its environment. */
import { spawn } from 'node:child_process';
import { openSync, closeSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { READY_FILE } from '../simulator.ts';
import type { SimCommand } from './types.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PID_FILE = 'sim.pid';
export const LOG_FILE = 'sim.log';
/** How long `up` waits for the simulator to listen. */
export const UP_TIMEOUT_MS = 30_000;

/** POSIX shell single-quoting, so that `eval "$(tmpl-sim up ...)"` is safe for any path. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_/.:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

export function parseDirArg(argv: readonly string[], allowed: readonly string[]): string {
  let dir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--dir') dir = argv[++i];
    else if (arg.startsWith('--dir=')) dir = arg.slice(6);
    else if (!allowed.includes(arg)) throw new Error(`unknown option '${arg}'`);
  }
  if (!dir) throw new Error('--dir DIR is required');
  return path.resolve(dir);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readPid(dir: string): Promise<number | null> {
  const text = await fs.readFile(path.join(dir, PID_FILE), 'utf8').catch(() => null);
  const pid = text === null ? NaN : Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
}

async function up(argv: readonly string[]): Promise<number> {
  const dir = parseDirArg(argv, ['--seed']);
  await fs.mkdir(dir, { recursive: true });
  const running = await readPid(dir);
  if (running !== null && processAlive(running))
    throw new Error(
      `a simulator already runs in ${dir} (pid ${running}); run 'tmpl-sim down --dir ${dir}' first`,
    );
  const ready = path.join(dir, READY_FILE);
  await fs.rm(ready, { force: true });
  const log = openSync(path.join(dir, LOG_FILE), 'a');
  const child = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'bin/run-ts.mjs'),
      path.join(REPO_ROOT, 'sim/simulator.ts'),
      '--dir',
      dir,
      ...(argv.includes('--seed') ? ['--seed'] : []),
    ],
    { detached: true, stdio: ['ignore', log, log], cwd: dir },
  );
  closeSync(log);
  if (child.pid === undefined) throw new Error('could not start the simulator');
  await fs.writeFile(path.join(dir, PID_FILE), `${child.pid}\n`);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + UP_TIMEOUT_MS;
  for (;;) {
    const text = await fs.readFile(ready, 'utf8').catch(() => null);
    if (text !== null) {
      const env = JSON.parse(text) as Record<string, string>;
      process.stdout.write(
        Object.entries(env)
          .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
          .join(''),
      );
      return 0;
    }
    if (exited !== null || Date.now() > deadline) {
      if (exited === null) process.kill(-child.pid, 'SIGKILL');
      await fs.rm(path.join(dir, PID_FILE), { force: true });
      throw new Error(`the simulator did not start; see ${path.join(dir, LOG_FILE)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const upCommand: SimCommand = {
  name: 'up',
  summary: 'start the simulator in the background (--dir DIR [--seed]); prints export lines',
  run: up,
};
