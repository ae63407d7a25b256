/**
 * What tmpl must undo if it dies mid-operation, even by SIGKILL: disposables it started for the
 * worker and template VMs it created but has not finished installing. Each entry is written, as
 * it happens, to a guard process (bin/tmpl-guard.mjs) that outlives tmpl: the guard reads until
 * its stdin closes, which the kernel does when tmpl exits however it exits, and then kills and
 * removes whatever is still registered.
 *
 * While the operation lock is held, the guard is the process that holds it (lock.ts), so the lock
 * is released only after the cleanup: a next run cannot race a guard removing a VM. Commands that
 * take no lock (list, info, search still start disposables) get a guard of their own on first use.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type CleanupKind = 'disposable' | 'template';

export const GUARD_BIN = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'bin',
  'tmpl-guard.mjs',
);

type Sink = (line: string) => void;
let sink: Sink | undefined;
let ownGuard: ChildProcess | undefined;
const registered = new Set<string>();

function key(kind: CleanupKind, name: string): string {
  return `${kind} ${name}`;
}

/** Lets `write` receive the journal (the lock's guard); returns the function that detaches it. */
export function attachJournal(write: Sink): () => void {
  sink = write;
  for (const entry of registered) write(`+${entry}\n`);
  return () => {
    if (sink === write) sink = undefined;
  };
}

function startOwnGuard(): Sink {
  ownGuard = spawn(process.execPath, [GUARD_BIN], { stdio: ['pipe', 'ignore', 'inherit'], detached: true });
  // The pipe, not a handle, keeps the guard waiting: let tmpl exit normally.
  ownGuard.unref();
  (ownGuard.stdin as unknown as { unref?: () => void }).unref?.();
  ownGuard.stdin!.on('error', () => {});
  const stdin = ownGuard.stdin!;
  return (line) => stdin.write(line);
}

function emit(line: string): void {
  (sink ??= startOwnGuard())(line);
}

/** Registers something to undo if tmpl dies before `resolved` is called for it. */
export function registerCleanup(kind: CleanupKind, name: string): void {
  registered.add(key(kind, name));
  emit(`+${key(kind, name)}\n`);
}

/** The thing was finished (kept) or already undone: nothing to do for it any more. */
export function resolveCleanup(kind: CleanupKind, name: string): void {
  if (!registered.delete(key(kind, name))) return;
  emit(`-${key(kind, name)}\n`);
}
