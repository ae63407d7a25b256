/**
 * An install after the root volume's import: the planned properties and features applied in a
 * recorded transaction, a reinstalled template's private volume cleared (QSB-050), and
 * qubes.PostInstall run. For an existing template any failure here restores its old properties,
 * features and volumes (restoreTemplate); a template created by the install is removed by the
 * caller instead.
 */
import { OrchestratorError } from '../errors.ts';
import { runVmService } from '../qubes/vm-service.ts';
import type { ReceivedTemplate } from '../verify/receive-template.ts';
import { ConfigTransaction } from './config-transaction.ts';
import type { InstallContext, InstallOptions, InstallResult } from './install-types.ts';
import type { TemplateConfigurationPlan } from './template-plan.ts';
import { holdRevisions, keptRevision, releaseRevisions, type Held } from './template-volumes.ts';

export interface Finish {
  readonly received: ReceivedTemplate;
  readonly plan: TemplateConfigurationPlan;
  readonly options: InstallOptions;
  readonly existing: boolean;
  /** The root volume's revisions before the import (existing templates). */
  readonly rootRevisions: readonly string[];
}

export async function finishInstall(ctx: InstallContext, finish: Finish): Promise<InstallResult> {
  const { admin, log } = ctx;
  const { received, plan, options, existing } = finish;
  const { head } = received;
  const name = head.templateName;
  const tx = new ConfigTransaction(admin, name, log, { recording: existing });
  let rootRevision: string | undefined;
  let privateRevision: string | undefined;
  let privateCleared = false;
  const held: Held[] = [];
  try {
    if (existing)
      rootRevision = keptRevision(finish.rootRevisions, await admin.volumeRevisions(name, 'root'));
    // Interrupted once the new root is committed: undone below like any other failure (the old
    // root, properties and features come back), not left half-upgraded.
    ctx.signal?.throwIfAborted();
    for (const [property, value] of plan.properties) await tx.setProperty(property, value);
    for (const [feature, value] of plan.features) await tx.setFeature(feature, value);
    ctx.signal?.throwIfAborted();
    if (existing) {
      // QSB-050: a reinstalled (upgraded, downgraded) template must not keep its old private
      // volume. Clearing is undone only by reverting to the revision the pool keeps at the
      // clear (none on a file pool), so it comes after every step that can fail without it.
      // But it comes before the template's first start: the new root must never boot with the
      // old private volume, whose /rw/config scripts and bind-dirs run as root at boot and
      // could write into the new root (committed at shutdown), carrying over exactly what the
      // reinstall is meant to remove. With --skip-start it is the last step.
      const before = await admin.volumeRevisions(name, 'private');
      await admin.volumeClear(name, 'private');
      privateCleared = true;
      privateRevision = keptRevision(before, await admin.volumeRevisions(name, 'private'));
    }
    if (!options.skipStart) {
      // The template's shutdown commits its volumes, and the pool then prunes to
      // revisions_to_keep: keep one more through the run, so the revisions kept above survive.
      if (rootRevision) held.push(await holdRevisions(admin, name, 'root'));
      if (privateRevision) held.push(await holdRevisions(admin, name, 'private'));
      await postInstall(ctx, name, tx);
    }
  } catch (error) {
    if (!existing) throw error; // the caller removes the template created for this install
    const thrown = await restoreTemplate(ctx, {
      name,
      tx,
      rootRevision,
      privateRevision,
      privateCleared,
      error,
    });
    await releaseRevisions(ctx, name, held);
    throw thrown;
  }
  await releaseRevisions(ctx, name, held);
  for (const warning of plan.warnings) log.warn({ template: name }, warning);
  return { template: name, head, created: !existing, warnings: plan.warnings };
}

interface Restore {
  readonly name: string;
  readonly tx: ConfigTransaction;
  /** The old root volume, kept by the pool when the import committed. */
  readonly rootRevision: string | undefined;
  readonly privateRevision: string | undefined;
  readonly privateCleared: boolean;
  readonly error: unknown;
}

/**
 * After a failure past the import's commit: the old properties and features back, the root
 * volume (and a cleared private one) reverted to the revisions the commits kept. Returns the
 * error to throw: the original one when everything was restored, else 'template.not-reverted'
 * naming the state the template is left in.
 */
async function restoreTemplate(ctx: InstallContext, restore: Restore): Promise<unknown> {
  const { admin, log } = ctx;
  const { name, error } = restore;
  // A volume reverts only while its qube is halted (post-install shuts it down; this covers a
  // failed shutdown or start).
  await admin.kill(name).catch(() => {});
  const notRestored = await restore.tx.rollback();
  let rootReverted = false;
  try {
    if (restore.rootRevision && (await admin.volumeRevisions(name, 'root')).includes(restore.rootRevision)) {
      await admin.volumeRevert(name, 'root', restore.rootRevision);
      rootReverted = true;
    }
  } catch (revertError) {
    log.error({ template: name, err: revertError }, 'could not revert the root volume');
  }
  if (restore.privateCleared) {
    try {
      if (!restore.privateRevision) throw new Error('the pool kept no revision');
      await admin.volumeRevert(name, 'private', restore.privateRevision);
    } catch (revertError) {
      // An empty private volume is what a fresh install has: the template still works.
      log.warn({ template: name, err: revertError }, 'the private volume stays cleared');
    }
  }
  if (rootReverted && notRestored.length === 0) {
    log.info({ template: name }, 'restored the template as it was before');
    return error;
  }
  const cause = error instanceof Error ? error.message : String(error);
  const root = rootReverted
    ? 'its old root volume is back'
    : `its root volume holds the new image (the pool kept no revision of the old one to revert to)`;
  const config =
    notRestored.length === 0
      ? 'its properties and features are the old ones'
      : `these were not restored: ${notRestored.join(', ')}`;
  return new OrchestratorError(
    'template.not-reverted',
    `template '${name}' is left half-updated after '${cause}': ${root}; ${config}. Reinstall it to make it whole.`,
    { cause: error },
  );
}

/** As qvm-template-postprocess: no network, qrexec on, start, qubes.PostInstall, shut down. */
async function postInstall(ctx: InstallContext, name: string, tx: ConfigTransaction): Promise<void> {
  const { admin, log } = ctx;
  await tx.setProperty('netvm', '');
  try {
    await tx.setFeature('qrexec', '1');
    await admin.start(name);
    try {
      await runVmService(ctx.env, name, 'qubes.PostInstall', { signal: ctx.signal });
    } catch (error) {
      throw new OrchestratorError('template.post-install', `qubes.PostInstall failed in ${name}`, {
        cause: error,
      });
    } finally {
      try {
        await admin.shutdown(name, { wait: true });
      } catch (error) {
        log.warn({ template: name, err: error }, 'shutdown after post-install failed; killing');
        await admin.kill(name).catch(() => {});
      }
    }
  } finally {
    await admin.resetProperty(name, 'netvm');
  }
}
