/**
 * Installing one template package through the worker: the orchestrator's whole transaction.
 *
 * Nothing changes in Qubes until the package head verified with our keyring. A new template VM is
 * created only then, the root volume is imported with ImportWithSize (committed by Qubes only when
 * the last byte, held back until every digest matched, arrives), and on any failure a VM created
 * here is removed again, so the previous state stays exactly as it was.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { PublicKey } from 'openpgp';
import type { RepoConfig, WorkerRequest } from '../protocol/messages.ts';
import type { AdminClient } from './admin-client.ts';
import { registerCleanup, resolveCleanup } from './cleanup-journal.ts';
import { OrchestratorError } from './errors.ts';
import type { QubesEnvironment } from './qubes-env.ts';
import {
  receiveTemplate,
  type ExpectedPackage,
  type ReceivedTemplate,
  type VerifiedHead,
} from './receive-template.ts';
import { APPMENU_FEATURES, parseAppmenuList, parseTemplateConf } from './template-conf.ts';
import { templateFeatures } from './template-features.ts';
import type { TransferLimits } from './transfer-watchdog.ts';
import { runVmService } from './vm-service.ts';
import { startWorker, type WorkerPlacement, type WorkerSession } from './worker-session.ts';
import { sendRequest } from './worker-io.ts';

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
 * `session`: a worker already started for this install (its disposable started while the
 * repositories were queried); installTemplate owns it from here and closes it.
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

  let created: string | undefined;
  let existing = false;
  let received: ReceivedTemplate;
  session ??= await startWorker({ env: ctx.env, admin, placement: ctx.placement, log, signal: ctx.signal });
  const worker = session;
  try {
    const sending = sendRequest(worker.stdin, request, source.kind === 'file' ? source.path : undefined);
    sending.catch(() => {});
    received = await receiveTemplate({
      op: request.op === 'fetch' ? 'fetch' : 'unpack',
      stream: worker.stdout,
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
    });
    await sending;
  } catch (error) {
    if (created) await removeQuietly(admin, created, log);
    throw error;
  } finally {
    await worker.close();
  }

  const name = received.head.templateName;
  try {
    ctx.signal?.throwIfAborted();
    const result = await finishInstall(
      ctx,
      received,
      options,
      existing,
      source.kind === 'repo' ? source.package.repoid : '@commandline',
    );
    if (created) resolveCleanup('template', created);
    return result;
  } catch (error) {
    if (created) await removeQuietly(admin, created, log);
    else log.error({ template: name }, 'the template was updated but its configuration did not complete');
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

async function finishInstall(
  ctx: InstallContext,
  received: ReceivedTemplate,
  options: InstallOptions,
  existing: boolean,
  reponame: string,
): Promise<InstallResult> {
  const { admin, log } = ctx;
  const { head, files } = received;
  const name = head.templateName;
  const warnings: string[] = [];
  if (existing) {
    // QSB-050: a reinstalled template must not keep the old private volume.
    await admin.volumeClear(name, 'private');
  }
  await admin.setProperty(name, 'installed_by_rpm', 'False');
  for (const [file, feature] of Object.entries(APPMENU_FEATURES)) {
    const bytes = files.get(file);
    if (bytes) await admin.setFeature(name, feature, parseAppmenuList(bytes, file));
    else warnings.push(`${file} not in the package: ${feature} not set`);
  }
  const conf = files.get('template.conf');
  if (conf) {
    const actions = parseTemplateConf(conf, { allowPv: options.allowPv });
    warnings.push(...actions.warnings);
    for (const [feature, value] of actions.features) await admin.setFeature(name, feature, value);
    if (actions.virtMode) await admin.setProperty(name, 'virt_mode', actions.virtMode);
    if (actions.kernel !== undefined) await admin.setProperty(name, 'kernel', actions.kernel);
  }
  for (const [feature, value] of templateFeatures(name, head.info, reponame, new Date())) {
    await admin.setFeature(name, feature, value);
  }
  for (const warning of warnings) log.warn({ template: name }, warning);
  if (!options.skipStart) await postInstall(ctx, name);
  return { template: name, head, created: !existing, warnings };
}

/** As qvm-template-postprocess: no network, qrexec on, start, qubes.PostInstall, shut down. */
async function postInstall(ctx: InstallContext, name: string): Promise<void> {
  const { admin, log } = ctx;
  await admin.setProperty(name, 'netvm', '');
  try {
    await admin.setFeature(name, 'qrexec', '1');
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
