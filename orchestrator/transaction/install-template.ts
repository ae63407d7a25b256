/**
 * Installing one template package through the worker: the orchestrator's whole transaction.
 *
 * Nothing changes in Qubes until the package head verified with our keyring. A new template VM is
 * created only then, the root volume is imported with ImportWithSize (committed by Qubes only when
 * the last byte, held back until every digest matched and the template's whole configuration was
 * planned, arrives), and on any failure a VM created here is removed again. For an existing
 * template, a failure after the commit restores its old properties and features, and reverts
 * its root (and a cleared private) volume to the revision the pool kept at the commit, so the
 * previous state stays exactly as it was.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { PublicKey } from 'openpgp';
import type { RepoConfig, WorkerRequest } from '../../protocol/messages.ts';
import type { AdminClient } from '../qubes/admin-client.ts';
import { registerCleanup, resolveCleanup } from './cleanup-journal.ts';
import { OrchestratorError } from '../errors.ts';
import type { QubesEnvironment } from '../qubes/environment.ts';
import {
  receiveTemplate,
  type ExpectedPackage,
  type ReceivedTemplate,
  type VerifiedHead,
} from '../verify/receive-template.ts';
import type { TransferLimits } from '../verify/transfer-watchdog.ts';
import { ConfigTransaction } from './config-transaction.ts';
import { planTemplateConfiguration, type TemplateConfigurationPlan } from './template-plan.ts';
import { runVmService } from '../qubes/vm-service.ts';
import { startWorker, type WorkerPlacement, type WorkerSession } from '../worker/session.ts';

export const TEMPLATE_LABEL = 'black';

export interface InstallContext {
  readonly admin: AdminClient;
  readonly env: QubesEnvironment;
  readonly log: Logger;
  readonly placement: WorkerPlacement;
  readonly releasever: string;
  readonly idleTimeoutMs?: number;
  readonly transferLimits?: Partial<TransferLimits>;
  /** The run's interruption (interrupt.ts): closes the worker, ends a post-install call. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (template: string, stage: string, done: number, total: number | undefined) => void;
}

export type InstallMode = 'install' | 'reinstall' | 'upgrade' | 'downgrade';

export interface InstallOptions {
  readonly mode: InstallMode;
  readonly pool?: string;
  readonly allowPv: boolean;
  readonly skipStart: boolean;
  readonly nogpgcheck: boolean;
  /** Keys trusted for this package (its repository's, or --keyring for a local file). */
  readonly keys: readonly PublicKey[];
  /** Checked once the verified header is known, before anything changes (rollback protection). */
  readonly checkVersion?: (head: VerifiedHead, existing: boolean) => Promise<void>;
}

export type InstallSource =
  | {
      readonly kind: 'repo';
      readonly repo: RepoConfig;
      readonly repos: readonly RepoConfig[];
      readonly package: ExpectedPackage & { repoid: string };
    }
  | { readonly kind: 'file'; readonly path: string; readonly repo: RepoConfig };

export interface InstallResult {
  readonly template: string;
  readonly head: VerifiedHead;
  readonly created: boolean;
  readonly warnings: readonly string[];
}

async function poolOf(
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

async function checkPoolRoom(admin: AdminClient, pool: string, needed: number): Promise<void> {
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

/**
 * `session`: the worker that listed the repositories for this install, kept for its package (one
 * disposable for both, protocol/request-sequence.ts); installTemplate owns it from here and
 * closes it. Without it, a worker is started for this package alone.
 */
export async function installTemplate(
  ctx: InstallContext,
  source: InstallSource,
  options: InstallOptions,
  session?: WorkerSession,
): Promise<InstallResult> {
  const { admin, log } = ctx;
  const request: WorkerRequest =
    source.kind === 'repo'
      ? {
          protocol: 1,
          op: 'fetch',
          releasever: ctx.releasever,
          repos: [...source.repos],
          package: {
            repoid: source.package.repoid,
            name: source.package.name,
            epoch: source.package.epoch,
            version: source.package.version,
            release: source.package.release,
          },
        }
      : { protocol: 1, op: 'unpack', releasever: ctx.releasever, repos: [source.repo] };

  const reponame = source.kind === 'repo' ? source.package.repoid : '@commandline';
  let created: string | undefined;
  let existing = false;
  let received: ReceivedTemplate;
  let plan: TemplateConfigurationPlan | undefined;
  let rootRevisions: readonly string[] = [];
  session ??= await startWorker({ env: ctx.env, admin, placement: ctx.placement, log, signal: ctx.signal });
  const worker = session;
  try {
    const { reply, sent: sending } = worker.exchange(
      request,
      source.kind === 'file' ? { file: source.path } : {},
    );
    received = await receiveTemplate({
      op: request.op === 'fetch' ? 'fetch' : 'unpack',
      stream: reply,
      keys: options.keys,
      nogpgcheck: options.nogpgcheck,
      expected: source.kind === 'repo' ? source.package : undefined,
      repoid: source.kind === 'repo' ? source.package.repoid : null,
      ...(ctx.idleTimeoutMs !== undefined ? { idleTimeoutMs: ctx.idleTimeoutMs } : {}),
      ...(ctx.transferLimits !== undefined ? { limits: ctx.transferLimits } : {}),
      log,
      ...(ctx.onProgress
        ? {
            onProgress: (stage: string, done: number, total: number | undefined) =>
              ctx.onProgress!(
                source.kind === 'repo'
                  ? source.package.name.replace(/^qubes-template-/, '')
                  : path.basename(source.path),
                stage,
                done,
                total,
              ),
          }
        : {}),
      prepare: async (head) => {
        const name = head.templateName;
        log.debug({ template: name }, 'looking for an existing template');
        existing = await admin.vmExists(name);
        log.debug({ template: name, existing }, 'checking the version');
        if (existing && options.mode === 'install') {
          throw new OrchestratorError('template.not-managed', `a VM named '${name}' already exists`);
        }
        if (!existing && options.mode !== 'install') {
          throw new OrchestratorError('template.not-found', `template '${name}' is not installed`);
        }
        await options.checkVersion?.(head, existing);
        const pool = await poolOf(admin, name, existing, existing ? undefined : options.pool);
        log.debug({ template: name, pool, needed: head.rootPartsBytes }, 'checking pool room');
        await checkPoolRoom(admin, pool, head.rootPartsBytes);
        // The revisions the pool keeps now: the one the import's commit adds is the old root.
        if (existing) rootRevisions = await admin.volumeRevisions(name, 'root');
        if (!existing) {
          await admin.createTemplate(name, TEMPLATE_LABEL, options.pool);
          registerCleanup('template', name);
          created = name;
          log.info({ template: name, pool }, 'created template VM');
        }
        return async (image) => {
          log.info({ template: name, size: image.member.realSize }, 'importing root volume');
          await admin.importWithSize(name, 'root', image.member.realSize, image.data);
        };
      },
      // Before the import's last chunk: a template.conf or appmenu list that cannot be applied
      // refuses the package while Qubes still holds the old volume.
      validate: (head, files) => {
        plan = planTemplateConfiguration({
          head,
          files,
          allowPv: options.allowPv,
          reponame,
          installedAt: new Date(),
        });
      },
    });
    await sending;
  } catch (error) {
    if (created) await removeQuietly(admin, created, log);
    throw error;
  } finally {
    await worker.close();
  }

  try {
    if (!plan) throw new OrchestratorError('template.conf', 'the template configuration was not planned');
    const result = await finishInstall(ctx, { received, plan, options, existing, rootRevisions });
    if (created) resolveCleanup('template', created);
    return result;
  } catch (error) {
    if (created) await removeQuietly(admin, created, log);
    throw error;
  }
}

async function removeQuietly(admin: AdminClient, vm: string, log: Logger): Promise<void> {
  try {
    try {
      await admin.kill(vm);
    } catch {
      // halted already
    }
    await admin.removeVm(vm);
    resolveCleanup('template', vm);
    log.info({ template: vm }, 'removed the template VM created for this install');
  } catch (error) {
    log.error({ template: vm, err: error }, 'could not remove the template VM created for this install');
  }
}

interface Finish {
  readonly received: ReceivedTemplate;
  readonly plan: TemplateConfigurationPlan;
  readonly options: InstallOptions;
  readonly existing: boolean;
  /** The root volume's revisions before the import (existing templates). */
  readonly rootRevisions: readonly string[];
}

/** The newest revision in `after` that was not in `before`: what a commit just kept. */
function keptRevision(before: readonly string[], after: readonly string[]): string | undefined {
  return after.filter((r) => !before.includes(r)).at(-1);
}

async function finishInstall(ctx: InstallContext, finish: Finish): Promise<InstallResult> {
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

/** Revisions kept while the template runs: the one kept at a commit above, the one its shutdown adds. */
export const KEPT_REVISIONS_DURING_RUN = 2;

interface Held {
  readonly volume: string;
  /** revisions_to_keep before, to set again; undefined when it was left as it was. */
  readonly old: string | undefined;
}

async function holdRevisions(admin: AdminClient, vm: string, volume: string): Promise<Held> {
  const old = (await admin.volumeInfo(vm, volume)).revisions_to_keep;
  const keep = Number(old);
  // -1 (reflink: snapshots disabled) and higher numbers are left alone.
  if (old === undefined || !Number.isInteger(keep) || keep < 0 || keep >= KEPT_REVISIONS_DURING_RUN)
    return { volume, old: undefined };
  await admin.setVolumeRevisionsToKeep(vm, volume, KEPT_REVISIONS_DURING_RUN);
  return { volume, old };
}

/** Sets revisions_to_keep back; a failure here is only logged (the template is complete). */
async function releaseRevisions(ctx: InstallContext, vm: string, held: readonly Held[]): Promise<void> {
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
