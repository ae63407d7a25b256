/**
 * `tmpl refresh-metadata` for one template: a worker fetches only the package's head (an HTTP
 * Range request), the orchestrator verifies its signature with the repository's key, and the
 * descriptive features that differ are updated (metadata-refresh.ts plans which).
 */
import type { PublicKey } from 'openpgp';
import { decodeFrames, FrameSequence } from '../../protocol/frames.ts';
import type { RepoConfig } from '../../protocol/messages.ts';
import { packageInfo } from '../../protocol/rpm-info.ts';
import { OrchestratorError } from '../errors.ts';
import { installedTemplate } from '../qubes/installed-templates.ts';
import { verifyHead } from '../verify/package-head.ts';
import { sendRequest, workerFailure } from '../worker/request.ts';
import { startWorker, type StartWorkerOptions } from '../worker/session.ts';
import { headRefFor, metadataChanges, REFRESHED_FEATURES, type HeadRef } from './metadata-refresh.ts';

export interface RefreshContext extends Omit<StartWorkerOptions, 'signal'> {
  readonly releasever: string;
}

/** The enabled repositories as the worker is told about them, and our keys for each. */
export interface RefreshRepos {
  readonly worker: readonly RepoConfig[];
  readonly keys: ReadonlyMap<string, readonly PublicKey[]>;
}

async function fetchHead(ctx: RefreshContext, repos: RefreshRepos, ref: HeadRef): Promise<Uint8Array> {
  const { env, admin, placement, log } = ctx;
  const session = await startWorker({ env, admin, placement, log });
  try {
    await sendRequest(session.stdin, {
      protocol: 1,
      op: 'header',
      releasever: ctx.releasever,
      repos: [...repos.worker],
      package: ref,
    });
    let head: Uint8Array | undefined;
    for await (const frame of decodeFrames(session.stdout, { sequence: new FrameSequence('header') })) {
      if (frame.type === 'ERROR') throw workerFailure(frame);
      if (frame.type === 'HEAD') head = frame.payload;
    }
    if (!head) throw new OrchestratorError('worker.protocol', 'the worker sent no head');
    return head;
  } finally {
    await session.close();
  }
}

/** Refreshes one template's descriptive features; returns the names of those it changed. */
export async function refreshTemplateMetadata(
  ctx: RefreshContext,
  repos: RefreshRepos,
  name: string,
): Promise<string[]> {
  const { admin } = ctx;
  const installed = (await admin.vmExists(name)) ? await installedTemplate(admin, name) : undefined;
  const ref = headRefFor(
    name,
    installed,
    repos.worker.map((r) => r.id),
  );
  const repo = repos.worker.find((r) => r.id === ref.repoid)!;
  const headBytes = await fetchHead(ctx, repos, ref);
  const { head } = await verifyHead(headBytes, repos.keys.get(repo.id) ?? [], { nogpgcheck: !repo.gpgcheck });
  const current = new Map<(typeof REFRESHED_FEATURES)[number], string | undefined>();
  for (const feature of REFRESHED_FEATURES) current.set(feature, await admin.getFeature(name, feature));
  const changes = metadataChanges(ref, packageInfo(head.header), current);
  for (const [feature, value] of changes) await admin.setFeature(name, feature, value);
  return changes.map(([feature]) => feature);
}
