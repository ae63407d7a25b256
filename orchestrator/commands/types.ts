import type { Writable } from 'node:stream';

/** What a CLI command gets from the entry point: its own arguments and the process's streams. */
export interface CommandContext {
  readonly argv: readonly string[];
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Returns the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}
