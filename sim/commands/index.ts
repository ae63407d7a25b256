import type { SimCommand } from './types.ts';

/** Every subcommand of `tmpl-sim`; each lives in its own file in this folder. */
export const simCommands: readonly SimCommand[] = [];
