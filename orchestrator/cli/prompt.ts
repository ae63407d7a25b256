/** Asking the user to confirm on the terminal (remove, purge, reinstall, upgrade, downgrade). */
import { createInterface } from 'node:readline/promises';
import { OrchestratorError } from '../errors.ts';
import type { App } from './context.ts';
import type { CommandContext } from './commands/types.ts';

export async function confirm(
  ctx: CommandContext,
  app: App,
  question: string,
  items: readonly string[],
): Promise<void> {
  if (app.yes) return;
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    throw new OrchestratorError(
      'cancelled',
      `${question} ${items.join(', ')}: confirmation needed; run with --yes to proceed without a terminal`,
    );
  }
  ctx.stderr.write(`${question}\n${items.map((i) => `  ${i}\n`).join('')}`);
  const rl = createInterface({ input: stdin, output: process.stderr });
  // On a terminal readline reads Ctrl-C as a key: make it the signal it would have been.
  rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  try {
    const answer = (await rl.question('Are you sure? [y/N] ', ctx.signal ? { signal: ctx.signal } : {}))
      .trim()
      .toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new OrchestratorError('cancelled', 'command cancelled.');
  } finally {
    rl.close();
  }
}
