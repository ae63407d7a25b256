import type { Command } from './types.ts';

/** Every subcommand of `tmpl`, in the order `tmpl --help` lists them. */
export const commands: readonly Command[] = [];
