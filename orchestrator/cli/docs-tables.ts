/**
 * The tables the man pages and the bash completion are generated from: the commands (name,
 * summary, usage, options), the global options and the version, as `--help` prints them.
 */
import type { OptionSpec } from './arguments.ts';
import { GLOBAL_OPTIONS } from './arguments.ts';
import { commands as COMMANDS } from './commands/index.ts';
import type { Command } from './commands/types.ts';
import { tmplVersion } from './version.ts';

/** What the generators read: the command and option tables, and the version to print. */
export interface DocsTables {
  readonly commands: readonly Pick<Command, 'name' | 'summary' | 'usage' | 'options'>[];
  readonly globalOptions: readonly OptionSpec[];
  readonly version: string;
}

export function cliTables(): DocsTables {
  return { commands: COMMANDS, globalOptions: GLOBAL_OPTIONS, version: tmplVersion() };
}

export function commandUsage(command: DocsTables['commands'][number]): string {
  return command.usage ?? `tmpl ${command.name} [OPTIONS]`;
}
