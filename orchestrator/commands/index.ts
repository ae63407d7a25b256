import type { Command } from './types.ts';
import { verifyCommand } from './verify.ts';
import { installCommands } from './install.ts';
import { listCommands } from './list.ts';
import { removeCommands } from './remove.ts';

/** Every subcommand of `tmpl`, in the order `tmpl --help` lists them. */
export const commands: readonly Command[] = [
  ...installCommands,
  ...listCommands,
  ...removeCommands,
  verifyCommand,
];
