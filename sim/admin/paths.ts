/** Socket locations shared by the daemon and the import script (kept free of heavy imports). */
import path from 'node:path';

/** dom0 has /var/run/qubesd.sock and /var/run/qubesd.internal.sock side by side. */
export function defaultInternalSocketPath(socketPath: string): string {
  return path.join(path.dirname(socketPath), 'qubesd.internal.sock');
}
