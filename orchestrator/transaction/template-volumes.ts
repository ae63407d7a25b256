/**
 * The template's volumes during an install: which pool a template goes to and whether it has
 * room, which revision a commit kept (the old root, to revert to), and keeping enough revisions
 * while the template runs for qubes.PostInstall so that revision survives its shutdown.
 */
import type { Logger } from 'pino';
import type { AdminClient } from '../qubes/admin-client.ts';
import { OrchestratorError } from '../errors.ts';

export async function poolOf(
  admin: AdminClient,
  template: string,
  exists: boolean,
  requested?: string,
): Promise<string> {
  if (requested) return requested;
  if (exists) {
    const pool = (await admin.volumeInfo(template, 'root')).pool;
    if (pool) return pool;
  }
  return (await admin.getGlobalProperty('default_pool')).value;
}

export async function checkPoolRoom(admin: AdminClient, pool: string, needed: number): Promise<void> {
  const info = await admin.poolInfo(pool);
  const size = Number(info.size);
  const usage = Number(info.usage ?? 0);
  if (!Number.isFinite(size) || size <= 0) return; // pools that do not report a size
  const free = size - usage;
  if (needed > free) {
    throw new OrchestratorError(
      'pool.no-space',
      `pool '${pool}' has ${free} bytes free, the template image needs up to ${needed} bytes`,
    );
  }
}

/** The newest revision in `after` that was not in `before`: what a commit just kept. */
export function keptRevision(before: readonly string[], after: readonly string[]): string | undefined {
  return after.filter((r) => !before.includes(r)).at(-1);
}

/** Revisions kept while the template runs: the one kept at a commit above, the one its shutdown adds. */
export const KEPT_REVISIONS_DURING_RUN = 2;

export interface Held {
  readonly volume: string;
  /** revisions_to_keep before, to set again; undefined when it was left as it was. */
  readonly old: string | undefined;
}

export async function holdRevisions(admin: AdminClient, vm: string, volume: string): Promise<Held> {
  const old = (await admin.volumeInfo(vm, volume)).revisions_to_keep;
  const keep = Number(old);
  // -1 (reflink: snapshots disabled) and higher numbers are left alone.
  if (old === undefined || !Number.isInteger(keep) || keep < 0 || keep >= KEPT_REVISIONS_DURING_RUN)
    return { volume, old: undefined };
  await admin.setVolumeRevisionsToKeep(vm, volume, KEPT_REVISIONS_DURING_RUN);
  return { volume, old };
}

/** Sets revisions_to_keep back; a failure here is only logged (the template is complete). */
export async function releaseRevisions(
  ctx: { readonly admin: AdminClient; readonly log: Logger },
  vm: string,
  held: readonly Held[],
): Promise<void> {
  for (const { volume, old } of held) {
    if (old === undefined) continue;
    try {
      await ctx.admin.setVolumeRevisionsToKeep(vm, volume, Number(old));
    } catch (error) {
      ctx.log.warn(
        { template: vm, volume, err: error },
        `could not set revisions_to_keep back to ${old}; set it with qvm-volume config`,
      );
    }
  }
}
