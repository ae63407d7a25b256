/**
 * Running the real `tmpl` (bin/tmpl.mjs, the built bundle) against a scenario (sim/scenario.ts):
 * without a terminal, on a pseudo-terminal, or as the leader of its own process group; and
 * reading the result the way a user or a script would: the exit status, the `--json` object and
 * the `tmpl: error [code]` line. One runner for every test that runs the command line, so that
 * all of them see the same environment and the same strict failure check.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { expect } from 'vitest';
import type { Scenario } from '../../../sim/scenario.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const TMPL_BIN = path.join(REPO_ROOT, 'bin/tmpl.mjs');
/** One run on a loaded 2-core machine, including the disposables for the worker (query, fetch). */
export const RUN_TIMEOUT_MS = 180_000;
export const MiB = 1024 * 1024;

/** What one run of tmpl left: its exit status (128 + N after signal N) and its output. */
export interface TmplRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** More environment (it wins over the scenario's). */
  readonly env?: Record<string, string>;
  /** Leave out the scenario's --repo-files/--releasever (to test option placement). */
  readonly bare?: boolean;
}

/**
 * The environment of a run: the test's, the scenario's (simulator sockets, lock file), a state
 * directory inside the scenario, logs at error level (so that stderr holds what a user reads:
 * warnings and the error line), then `extra`.
 */
export function tmplEnv(scenario: Scenario, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    ...scenario.env,
    TMPL_STATE_DIR: path.join(scenario.dir, 'tmpl-state'),
    TMPL_LOG_LEVEL: 'error',
    ...extra,
  };
}

/** `node bin/tmpl.mjs ARGS... <scenario args>`, the argv every runner here starts. */
function tmplArgv(scenario: Scenario, args: readonly string[], bare = false): string[] {
  return [TMPL_BIN, ...args, ...(bare ? [] : scenario.args)];
}

/** Starts tmpl without a terminal (stdin closed); the caller may signal it before awaiting it. */
export function startTmpl(
  scenario: Scenario,
  args: readonly string[],
  options: RunOptions = {},
): ResultPromise {
  return execa(process.execPath, tmplArgv(scenario, args, options.bare), {
    env: tmplEnv(scenario, options.env),
    extendEnv: false,
    reject: false,
    timeout: RUN_TIMEOUT_MS,
    stdin: 'ignore',
    stripFinalNewline: false,
    cwd: scenario.dir,
  });
}

/** Runs tmpl without a terminal to its end. */
export async function runTmpl(
  scenario: Scenario,
  args: readonly string[],
  options: RunOptions = {},
): Promise<TmplRun> {
  const result = await startTmpl(scenario, args, options);
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/**
 * Runs tmpl outside any scenario, from the repository's root: for what needs no Qubes (verify,
 * --help) or tests its absence. `env` is the whole environment when `onlyEnv` is set, else added
 * to the test's.
 */
export async function runTmplAlone(
  args: readonly string[],
  options: { readonly env?: Record<string, string | undefined>; readonly onlyEnv?: boolean } = {},
): Promise<TmplRun> {
  const result = await execa(process.execPath, [TMPL_BIN, ...args], {
    env: options.env ?? {},
    extendEnv: !options.onlyEnv,
    reject: false,
    timeout: RUN_TIMEOUT_MS,
    stdin: 'ignore',
    stripFinalNewline: false,
    cwd: REPO_ROOT,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs tmpl on a pseudo-terminal (util-linux script(1)) and answers each "[y/N]" prompt with the
 * next of `answers` once the prompt has appeared (none left: end of input). Returns everything
 * the terminal showed as stdout, and how many prompts it showed.
 */
export async function runOnTerminal(
  scenario: Scenario,
  args: readonly string[],
  answers: readonly string[],
): Promise<TmplRun & { prompts: number }> {
  const command = [process.execPath, ...tmplArgv(scenario, args)].map(shellQuote).join(' ');
  const child = execa('script', ['-qefc', command, '/dev/null'], {
    env: tmplEnv(scenario),
    extendEnv: false,
    reject: false,
    timeout: RUN_TIMEOUT_MS,
    stdin: 'pipe',
    cwd: scenario.dir,
  });
  let seen = '';
  let prompts = 0;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    seen += chunk;
    const count = seen.split('[y/N]').length - 1;
    while (prompts < count) {
      const answer = answers[prompts];
      prompts++;
      if (answer === undefined) child.stdin.end();
      else child.stdin.write(`${answer}\r`);
    }
  });
  const result = await child;
  return { exitCode: result.exitCode ?? -1, stdout: seen, stderr: String(result.stderr), prompts };
}

/** A run started by startTmplGroup; `ended` is set once it has ended. */
export interface GroupRun {
  readonly pid: number;
  readonly done: Promise<TmplRun & { readonly killedBy: NodeJS.Signals | null }>;
  ended?: TmplRun & { readonly killedBy: NodeJS.Signals | null };
}

/**
 * tmpl as the leader of a process group of its own, as a shell starts a foreground job (signal
 * the group with `process.kill(-pid, ...)`). Its exit status as a shell reports it: a death by
 * signal N is 128 + N; `killedBy` names the signal, null when tmpl exited by itself.
 */
export function startTmplGroup(scenario: Scenario, args: readonly string[]): GroupRun {
  const child = spawn(process.execPath, tmplArgv(scenario, args), {
    env: tmplEnv(scenario),
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: scenario.dir,
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<NonNullable<GroupRun['ended']>>((resolve) =>
    child.once('close', (code, signal) =>
      resolve({
        exitCode: code ?? (signal ? 128 + os.constants.signals[signal] : -1),
        killedBy: signal,
        stdout,
        stderr,
      }),
    ),
  );
  const run: GroupRun = { pid: child.pid!, done };
  void done.then((result) => (run.ended = result));
  return run;
}

/** The `--json` result object (orchestrator/cli/output.ts); commands add their own fields. */
export interface JsonResult {
  ok: boolean;
  command: string | null;
  error?: { code: string; message: string };
  templates?: { template: string; status: string; evr?: string; package?: string; message?: string }[];
  [key: string]: unknown;
}

/** The last stdout line of a `--json` run, parsed (progress events may come before it). */
export function jsonOf(run: TmplRun): JsonResult {
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as JsonResult;
  } catch {
    throw new Error(`no JSON on stdout; exit ${run.exitCode}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

/** A run that exited 0, showing its output when it did not. */
export function expectSuccess(run: TmplRun): void {
  expect(run.exitCode, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
}

export interface ExpectedFailure {
  /** The stable error code (errors.ts), in `--json` and in the `tmpl: error [code]` line. */
  readonly code: string;
  /** The exact exit status: 1 (the default) for a refusal, 2 for a usage error or not found. */
  readonly exit?: number;
}

/**
 * A failed `--json` run: exactly the exit status, `ok: false` with the stable error code in the
 * JSON result, and the same code in the error line on stderr.
 */
export function expectFailure(run: TmplRun, { code, exit = 1 }: ExpectedFailure): void {
  expect(run.exitCode, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(exit);
  const json = jsonOf(run);
  expect(json.ok).toBe(false);
  expect(json.error?.code, json.error?.message).toBe(code);
  expect(run.stderr).toContain(`tmpl: error [${code}]`);
}
