/**
 * How `tmpl setup` reports, and the check every command runs when it could not reach a worker:
 * a worker stream that ended before its first frame (the disposable's qrexec call was refused, the
 * service is missing, the worker could not start) is followed by `tmpl setup --check`'s findings,
 * so the error names what is missing and the command that fixes it.
 */
import { ParseError, TmplError } from '../../protocol/errors.ts';
import { displayLine } from '../../protocol/display-text.ts';
import type { ParsedArgs } from './arguments.ts';
import { createApp } from './context.ts';
import { DEFAULT_WORKER_DVM, type SetupProblem } from '../qubes/worker-setup.ts';
import { runSetup, type SetupReport } from '../transaction/worker-setup-run.ts';

/** `--json` output of `tmpl setup`: with the first problem as `error`, as every failed command has one. */
export function setupJson(report: SetupReport, check: boolean): Record<string, unknown> {
  const first = report.problems[0];
  return {
    command: 'setup',
    ok: report.ok,
    check,
    changed: report.changed,
    problems: report.problems,
    ...(report.worker !== undefined ? { worker: report.worker } : {}),
    ...(first ? { error: { code: first.code, message: first.message } } : {}),
  };
}

/** Two lines per problem: what is missing (with its code), and the fix. */
export function formatProblems(problems: readonly SetupProblem[]): string {
  return problems
    .map((p) => `missing [${p.code}]: ${displayLine(p.message)}\n  fix: ${displayLine(p.fix)}\n`)
    .join('');
}

/**
 * True for an error that says no worker answered at all: its stream ended before the first
 * frame (nothing ran), or a code naming that.
 */
export function isWorkerUnreachable(error: unknown): boolean {
  if (error instanceof ParseError) return error.code === 'frame.truncated' && error.offset === 0;
  return error instanceof TmplError && error.code === 'worker.failed';
}

/**
 * `tmpl setup --check` for a command that failed to reach a worker in a disposable; undefined
 * when the error is another one, the worker was not to run in a disposable, or the check itself
 * failed (the command's own error is what matters then).
 */
export async function findingsForWorkerFailure(
  error: unknown,
  args: ParsedArgs | undefined,
  env: NodeJS.ProcessEnv,
): Promise<readonly SetupProblem[] | undefined> {
  if (args === undefined || !isWorkerUnreachable(error)) return undefined;
  if (args.options.has('local-worker') || args.options.has('updatevm')) return undefined;
  try {
    const app = createApp(args, env);
    const dispvm = args.options.get('dispvm')?.at(-1);
    const report = await runSetup(
      { env: app.env, processEnv: env, admin: app.admin, log: app.log, releasever: app.releasever },
      { check: true, name: dispvm || DEFAULT_WORKER_DVM },
    );
    return report.problems;
  } catch {
    return undefined;
  }
}
