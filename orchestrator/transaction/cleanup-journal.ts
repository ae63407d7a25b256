/**
 * What tmpl must undo if it dies mid-operation, even by SIGKILL: disposables it started for the
 * worker and template VMs it created but has not finished installing. Each entry is written, as
 * it happens, to a guard process (the built tmpl run with GUARD_ARGUMENT) that outlives tmpl: the guard reads until
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

/** The first argument that makes the built entry point (orchestrator/cli/entry.ts) run as the guard. */
export const GUARD_ARGUMENT = '--cleanup-guard';

/**
 * Used from the sources (the library in tests): the built bundle beside them. The built entry
 * point replaces it with itself, wherever it is installed.
 */
const SOURCE_TREE_GUARD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'dist',
  'tmpl.mjs',
);
let guardCommand: readonly string[] = [process.execPath, SOURCE_TREE_GUARD, GUARD_ARGUMENT];

/** How to start the guard: the built entry point sets itself (with GUARD_ARGUMENT) here. */
export function setGuardCommand(command: readonly string[]): void {
  guardCommand = command;
}

/** The program and arguments that start a guard. */
export function guardArgv(): readonly string[] {
  return guardCommand;
}

/** Journal lines: `+KIND NAME` registers, `-KIND NAME` resolves. */
const JOURNAL_LINE = /^([+-])(disposable|template) ([A-Za-z0-9_.-]{1,64})$/;

/**
 * The guard itself: reads journal lines until its input closes (tmpl exited, however it
 * exited), then undoes what is still registered. Returns the exit status.
 */
export async function runGuard(input: NodeJS.ReadableStream): Promise<number> {
  // tmpl may be gone: its end of our stderr with it.
  process.stderr.on('error', () => {});
  // The guard runs in a session of its own; should one of these still reach it (a second Ctrl-C,
  // a signal sent to the wrong group), it finishes its work: it ends when tmpl's pipe closes.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
  const pending = new Set<string>();
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input })) {
    const match = JOURNAL_LINE.exec(line);
    if (!match) continue;
    const entry = `${match[2]} ${match[3]}`;
    if (match[1] === '+') pending.add(entry);
    else pending.delete(entry);
  }
  if (pending.size === 0) return 0;
  const { undo } = await import('./guard-undo.ts');
  return undo([...pending].map((e) => e.split(' ')));
}

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
  const [program, ...args] = guardCommand;
  ownGuard = spawn(program ?? process.execPath, args, {
    stdio: ['pipe', 'ignore', 'inherit'],
    detached: true,
  });
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
