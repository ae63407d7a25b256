/**
 * The guard's cleanup (cleanup-journal.ts runGuard), run after tmpl died with work registered in the
 * cleanup journal: disposables are killed (Qubes removes a killed disposable), template VMs that
 * were created but never finished are killed and removed. Every step is attempted; failures are
 * reported on stderr and in the exit status.
 */
import { AdminClient } from '../qubes/admin-client.ts';
import { createTransport } from '../qubes/admin-transport.ts';
import { OrchestratorError } from '../errors.ts';
import { resolveQubesEnvironment } from '../qubes/environment.ts';

function gone(error: unknown): boolean {
  return (
    error instanceof OrchestratorError &&
    (error.code === 'qubes.vm-not-found' || error.code === 'qubes.vm-not-running')
  );
}

export async function undo(entries: readonly string[][]): Promise<number> {
  const admin = new AdminClient(createTransport(resolveQubesEnvironment(process.env)));
  let failures = 0;
  // disposables first: they hold the worker that may still feed an import
  const order = [...entries].sort((a, b) => (a[0] === b[0] ? 0 : a[0] === 'disposable' ? -1 : 1));
  for (const [kind, name] of order) {
    try {
      try {
        await admin.kill(name!);
      } catch (error) {
        if (!gone(error) && kind === 'disposable') throw error;
      }
      if (kind === 'template') await admin.removeVm(name!);
      process.stderr.write(`tmpl-guard: ${kind === 'template' ? 'removed' : 'killed'} ${kind} ${name}\n`);
    } catch (error) {
      if (gone(error)) continue;
      failures++;
      process.stderr.write(`tmpl-guard: could not undo ${kind} ${name}: ${(error as Error).message}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}
