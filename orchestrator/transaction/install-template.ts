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
import type { WorkerRequest } from '../../protocol/messages.ts';
import type { AdminClient } from '../qubes/admin-client.ts';
import { registerCleanup, resolveCleanup } from './cleanup-journal.ts';
import { OrchestratorError } from '../errors.ts';
import {
  receiveTemplate,
  type ReceiveOptions,
  type ReceivedTemplate,
  type VerifiedHead,
} from '../verify/receive-template.ts';
import type { ImageStream } from '../verify/image-stream.ts';
import { planTemplateConfiguration, type TemplateConfigurationPlan } from './template-plan.ts';
import { startWorker, type WorkerSession } from '../worker/session.ts';
import { finishInstall } from './finish-install.ts';
import { checkPoolRoom, poolOf } from './template-volumes.ts';
import type { InstallContext, InstallOptions, InstallResult, InstallSource } from './install-types.ts';

export type {
  InstallContext,
  InstallMode,
  InstallOptions,
  InstallResult,
  InstallSource,
} from './install-types.ts';
export { KEPT_REVISIONS_DURING_RUN } from './template-volumes.ts';

export const TEMPLATE_LABEL = 'black';

/** What the install learns and does before the import's commit, for the steps after it and for cleanup. */
interface InstallState {
  /** The template VM this install created (removed again on failure). */
  created?: string;
  existing: boolean;
  /** The root volume's revisions before the import (existing templates). */
  rootRevisions: readonly string[];
  plan?: TemplateConfigurationPlan;
}

/** The worker's request: fetch a repository package, or unpack the local file sent after it. */
function workerRequest(releasever: string, source: InstallSource): WorkerRequest {
  if (source.kind === 'file') return { protocol: 1, op: 'unpack', releasever, repos: [source.repo] };
  const { repoid, name, epoch, version, release } = source.package;
  return {
    protocol: 1,
    op: 'fetch',
    releasever,
    repos: [...source.repos],
    package: { repoid, name, epoch, version, release },
  };
}

/** The transfer's time limits and progress reports, named by template (or file) for the display. */
function transferOptions(
  ctx: InstallContext,
  source: InstallSource,
): Pick<ReceiveOptions, 'idleTimeoutMs' | 'limits' | 'onProgress'> {
  const { onProgress } = ctx;
  const label =
    source.kind === 'repo' ? source.package.name.replace(/^qubes-template-/, '') : path.basename(source.path);
  return {
    ...(ctx.idleTimeoutMs !== undefined ? { idleTimeoutMs: ctx.idleTimeoutMs } : {}),
    ...(ctx.transferLimits !== undefined ? { limits: ctx.transferLimits } : {}),
    ...(onProgress
      ? {
          onProgress: (stage: string, done: number, total: number | undefined) =>
            onProgress(label, stage, done, total),
        }
      : {}),
  };
}

/**
 * Once the head is verified, before anything changes: the template must (install) or must not
 * (the others) exist, pass the version check and fit in its pool; then a new template VM is
 * created. Returns the import of the root volume.
 */
async function prepareTarget(
  ctx: InstallContext,
  options: InstallOptions,
  state: InstallState,
  head: VerifiedHead,
): Promise<(image: ImageStream) => Promise<void>> {
  const { admin, log } = ctx;
  const name = head.templateName;
  log.debug({ template: name }, 'looking for an existing template');
  const existing = await admin.vmExists(name);
  state.existing = existing;
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
  if (existing) state.rootRevisions = await admin.volumeRevisions(name, 'root');
  if (!existing) {
    await admin.createTemplate(name, TEMPLATE_LABEL, options.pool);
    registerCleanup('template', name);
    state.created = name;
    log.info({ template: name, pool }, 'created template VM');
  }
  return async (image) => {
    log.info({ template: name, size: image.member.realSize }, 'importing root volume');
    await admin.importWithSize(name, 'root', image.member.realSize, image.data);
  };
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
  const request = workerRequest(ctx.releasever, source);
  const reponame = source.kind === 'repo' ? source.package.repoid : '@commandline';
  const state: InstallState = { existing: false, rootRevisions: [] };
  let received: ReceivedTemplate;
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
      ...transferOptions(ctx, source),
      log,
      prepare: (head) => prepareTarget(ctx, options, state, head),
      // Before the import's last chunk: a template.conf or appmenu list that cannot be applied
      // refuses the package while Qubes still holds the old volume.
      validate: (head, files) => {
        const { allowPv } = options;
        state.plan = planTemplateConfiguration({ head, files, allowPv, reponame, installedAt: new Date() });
      },
    });
    await sending;
  } catch (error) {
    if (state.created) await removeQuietly(admin, state.created, log);
    throw error;
  } finally {
    await worker.close();
  }

  try {
    const { plan, existing, rootRevisions } = state;
    if (!plan) throw new OrchestratorError('template.conf', 'the template configuration was not planned');
    const result = await finishInstall(ctx, { received, plan, options, existing, rootRevisions });
    if (state.created) resolveCleanup('template', state.created);
    return result;
  } catch (error) {
    if (state.created) await removeQuietly(admin, state.created, log);
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
