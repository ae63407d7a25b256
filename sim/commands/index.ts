import type { SimCommand } from './types.ts';
import { downCommand } from './down.ts';
import { upCommand } from './up.ts';
import { demoCommand } from './demo.ts';
import { forgeCommand } from './forge.ts';
import { serveCommand } from './serve.ts';

/** Every subcommand of `tmpl-sim`; each lives in its own file in this folder. */
export const simCommands: readonly SimCommand[] = [
  upCommand,
  downCommand,
  demoCommand,
  forgeCommand,
  serveCommand,
];
