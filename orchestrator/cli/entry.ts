/**
 * The entry point of the built `tmpl` (dist/tmpl.mjs): the command line, or, with
 * GUARD_ARGUMENT first, the cleanup guard. The guard is a mode of the same file so that the
 * installed bundle needs nothing else (no TypeScript loader, no second script) to clean up after
 * a killed tmpl.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GUARD_ARGUMENT, runGuard, setGuardCommand } from '../transaction/cleanup-journal.ts';
import { main } from './main.ts';

export async function runEntry(argv: readonly string[], selfUrl: string): Promise<number> {
  if (argv[0] === GUARD_ARGUMENT) return runGuard(process.stdin);
  setGuardCommand([process.execPath, fileURLToPath(selfUrl), GUARD_ARGUMENT]);
  // Installed as tmpl-install (or run through bin/tmpl-install.mjs): `tmpl install ARGS`.
  const invokedAs = path.basename(process.argv[1] ?? '');
  return main(/^tmpl-install(\.m?js)?$/.test(invokedAs) ? ['install', ...argv] : argv);
}
