import type { Writable } from 'node:stream';
import type { OptionSpec, ParsedArgs } from '../arguments.ts';

/** What a CLI command gets from the entry point: its own arguments and the process's streams. */
export interface CommandContext {
  readonly argv: readonly string[];
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
  /** Set for commands that declare `options`: the whole command line parsed qvm-template's way. */
  readonly args?: ParsedArgs;
  /** Aborted when SIGINT, SIGTERM or SIGHUP interrupts the run (reason: an InterruptedError). */
  readonly signal?: AbortSignal;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Command options besides the global ones; when present, the CLI parses the command line. */
  readonly options?: readonly OptionSpec[];
  readonly usage?: string;
  /** Returns the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}
