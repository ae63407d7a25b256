/** `tmpl-sim down --dir DIR`: stop the simulator started by `up` and wait until it is gone. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ADMIN_SOCKET_NAME, READY_FILE } from '../simulator.ts';
import type { SimCommand } from './types.ts';
import { parseDirArg, PID_FILE, processAlive, readPid } from './up.ts';

/** Grace period after SIGTERM before the process group is killed. */
export const DOWN_GRACE_MS = 10_000;

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !processAlive(pid);
}

async function down(argv: readonly string[]): Promise<number> {
  const dir = parseDirArg(argv, []);
  const pid = await readPid(dir);
  if (pid !== null && processAlive(pid)) {
    signalGroup(pid, 'SIGTERM');
    if (!(await waitGone(pid, DOWN_GRACE_MS))) {
      signalGroup(pid, 'SIGKILL');
      await waitGone(pid, DOWN_GRACE_MS);
    }
  }
  // Whatever the server left behind in its group (sandboxed services) goes too.
  if (pid !== null) signalGroup(pid, 'SIGKILL');
  for (const name of [PID_FILE, READY_FILE, ADMIN_SOCKET_NAME, 'qubesd.internal.sock', 'qrexec.sock'])
    await fs.rm(path.join(dir, name), { force: true });
  return 0;
}

export const downCommand: SimCommand = {
  name: 'down',
  summary: 'stop the simulator started by up (--dir DIR)',
  run: down,
};
