/**
 * The `tmpl` command line. The only place that turns errors into exit codes and messages.
 *
 * Exit codes: 0 success (also "already installed"); otherwise the status the error catalogue
 * (../error-catalogue.ts) gives the error's code: 1 a failure (verification, worker, Qubes, lock
 * held, cancelled); 2 a usage error or a template that was not found; 128 + the signal's number
 * when SIGINT, SIGTERM or SIGHUP interrupted the run (130, 143, 129; interrupt.ts).
 */
import { commands } from './commands/index.ts';
import { formatOptionsHelp, GLOBAL_OPTIONS, parseArgs, flag, type ParsedArgs } from './arguments.ts';
import { TmplError } from '../../protocol/errors.ts';
import { OrchestratorError } from '../errors.ts';
import { exitStatusOf } from '../error-catalogue.ts';
import { displayLine } from '../../protocol/display-text.ts';
import { tmplVersion } from './version.ts';
import { InterruptedError, interruptionOr, trapInterrupts } from './interrupt.ts';
import { findingsForWorkerFailure, formatProblems } from './setup-findings.ts';

/** What `tmpl --help` says tmpl does; the man page (docs.ts) opens with the same words. */
export const PROGRAM_DESCRIPTION = [
  'Manage Qubes OS TemplateVMs: every package is downloaded, verified and unpacked in a',
  'disposable VM; only a verified root image and validated metadata reach this domain.',
];

function usage(): string {
  const lines = [
    'usage: tmpl [OPTIONS] COMMAND [OPTIONS] [ARGS...]',
    '',
    ...PROGRAM_DESCRIPTION,
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(20)}${c.summary}`),
    '',
    'global options:',
    formatOptionsHelp(GLOBAL_OPTIONS),
    '',
    "Run 'tmpl COMMAND --help' for a command's options.",
  ];
  return lines.join('\n') + '\n';
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof InterruptedError) return error.exitCode;
  // The statuses are in the catalogue, with what each code means (docs/error-codes.md).
  return error instanceof TmplError ? exitStatusOf(error.code) : 1;
}

/** `tmpl --version`, `tmpl --help`, or a usage error: a run that names no command. */
function withoutCommand(args: ParsedArgs, wantsJson: boolean): number {
  if (flag(args, 'version')) {
    const version = { command: 'version', ok: true, version: tmplVersion(), node: process.version };
    process.stdout.write(wantsJson ? JSON.stringify(version) + '\n' : `tmpl ${tmplVersion()}\n`);
    return 0;
  }
  if (flag(args, 'help')) {
    process.stdout.write(usage());
    return 0;
  }
  throw new OrchestratorError('usage', "no command given; run 'tmpl --help'");
}

/** Reports a failed run (one line on stderr, and the --json object) and gives its exit status. */
async function reportFailure(
  thrown: unknown,
  signal: AbortSignal,
  args: ParsedArgs | undefined,
  wantsJson: boolean,
): Promise<number> {
  // Whatever the interrupted work failed with (a worker cut short, a child killed by the same
  // signal), the run was interrupted: that is what is reported.
  const error = interruptionOr(thrown, signal);
  const code = error instanceof TmplError ? error.code : 'internal';
  // One line, whatever the error carries (it may quote a header, a path or a worker's words).
  const message = displayLine(error instanceof Error ? error.message : String(error));
  // No worker answered: what `tmpl setup --check` finds missing, with the fixing commands.
  const problems = signal.aborted ? undefined : await findingsForWorkerFailure(error, args, process.env);
  if (wantsJson) {
    process.stdout.write(
      JSON.stringify({
        command: args?.command ?? null,
        ok: false,
        error: { code, message },
        ...(problems ? { problems } : {}),
      }) + '\n',
    );
  }
  process.stderr.write(`tmpl: error [${code}]: ${message}\n`);
  if (problems && problems.length > 0)
    process.stderr.write(`tmpl setup --check found:\n${formatProblems(problems)}`);
  if (code === 'internal' && error instanceof Error && process.env.TMPL_DEBUG)
    process.stderr.write(
      `${(error.stack ?? '')
        .split('\n')
        .map((line) => displayLine(line))
        .join('\n')}\n`,
    );
  return exitCodeFor(error);
}

export async function main(argv: readonly string[]): Promise<number> {
  const wantsJson = argv.includes('--json');
  let args: ParsedArgs | undefined;
  const trap = trapInterrupts(process, {
    onRepeat: (signal) => process.stderr.write(`tmpl: ${signal}: already stopping; please wait\n`),
  });
  const { signal } = trap;
  try {
    // The first word that is not an option (or an option's value) names the command.
    args = parseArgs(argv, (name) => commands.find((c) => c.name === name)?.options ?? []);
    if (args.command === undefined) return withoutCommand(args, wantsJson);
    const command = commands.find((c) => c.name === args!.command);
    if (!command)
      throw new OrchestratorError('usage', `unknown command '${args.command}'; run 'tmpl --help'`);
    if (!command.options) {
      // A command that parses its own arguments gets everything after its name.
      const index = argv.indexOf(command.name);
      return await command.run({
        argv: argv.slice(index + 1),
        stdout: process.stdout,
        stderr: process.stderr,
        env: process.env,
        signal,
      });
    }
    if (flag(args, 'help')) {
      process.stdout.write(
        `usage: ${command.usage ?? `tmpl ${command.name} [OPTIONS]`}\n\n${command.summary}\n\noptions:\n${formatOptionsHelp(command.options)}\n\nglobal options:\n${formatOptionsHelp(GLOBAL_OPTIONS)}\n`,
      );
      return 0;
    }
    return await command.run({
      argv,
      args,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal,
    });
  } catch (thrown) {
    return await reportFailure(thrown, signal, args, wantsJson);
  } finally {
    // Once interrupted, the handlers stay until the process ends: a repeated Ctrl-C while it
    // exits must not turn the interrupted run's exit status into a death by that signal.
    if (!signal.aborted) trap.release();
  }
}
