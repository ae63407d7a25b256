/**
 * The operation lock: flock(2) on a file that is never unlinked (unlinking a lock file lets a
 * second process lock a new inode while the first still holds the old one). The default path
 * is the incumbent's, so tmpl and qvm-template exclude each other in dom0.
 *
 * Node has no flock binding; util-linux's flock(1) takes the lock for us and holds it while its
 * child, tmpl's cleanup guard (cleanup-journal.ts runGuard), reads our pipe. When this process exits, even
 * by SIGKILL, the pipe closes, the guard undoes what the cleanup journal still lists (a
 * disposable, a half-made template) and ends, and the kernel drops the lock: a crash leaves
 * neither a stale lock nor leftovers, and the next run cannot start before the cleanup is done.
 *
 * flock and the guard run in a session of their own (detached): Ctrl-C on a terminal, or a
 * SIGTERM/SIGHUP sent to tmpl's process group, must not kill the guard with tmpl, or the cleanup
 * it exists for would never run (interrupt.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { attachJournal, guardArgv } from './cleanup-journal.ts';
import { OrchestratorError } from '../errors.ts';

export const INCUMBENT_LOCK_FILE = '/run/qubes/qvm-template.lock';
/** flock(1) exit status we ask for when the lock is held by someone else. */
const CONFLICT_EXIT = 75;

export function defaultLockFile(env: NodeJS.ProcessEnv): string {
  if (env.TMPL_LOCK_FILE) return env.TMPL_LOCK_FILE;
  if (existsSync(path.dirname(INCUMBENT_LOCK_FILE))) return INCUMBENT_LOCK_FILE;
  return path.join(env.XDG_RUNTIME_DIR ?? '/tmp', 'tmpl.lock');
}

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

export async function acquireLock(lockPath: string): Promise<HeldLock> {
  mkdirSync(path.dirname(lockPath), { recursive: true });
  const child = spawn(
    'flock',
    [
      '--nonblock',
      '--conflict-exit-code',
      String(CONFLICT_EXIT),
      lockPath,
      'sh',
      '-c',
      'echo locked; exec "$0" "$@"',
      ...guardArgv(),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
  );
  const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? 1)));
  const locked = await new Promise<boolean>((resolve, reject) => {
    child.once('error', (error) =>
      reject(
        new OrchestratorError('lock.held', `cannot run flock(1) for ${lockPath}: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    child.stdout.once('data', () => resolve(true));
    void exited.then(() => resolve(false));
  });
  if (!locked) {
    const code = await exited;
    throw new OrchestratorError(
      'lock.held',
      code === CONFLICT_EXIT
        ? `Cannot get lock on ${lockPath}. Perhaps another instance of tmpl or qvm-template is running?`
        : `Cannot get lock on ${lockPath} (flock exited ${code})`,
    );
  }
  child.stdout.resume();
  child.stdin.on('error', () => {});
  const detach = attachJournal((line) => child.stdin.write(line));
  // The pipe, not a handle on the event loop, holds the lock: let the process exit normally.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  return {
    path: lockPath,
    async release() {
      // Unreferenced handles do not keep the event loop alive: without these, awaiting `exited`
      // ends the process with "unsettled top-level await" (exit 13) before flock's exit arrives.
      detach();
      child.ref();
      (child.stdout as unknown as { ref?: () => void }).ref?.();
      (child.stderr as unknown as { ref?: () => void }).ref?.();
      child.stdin.end();
      await exited;
    },
  };
}

export async function withLock<T>(lockPath: string, body: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(lockPath);
  try {
    return await body();
  } finally {
    await lock.release();
  }
}
