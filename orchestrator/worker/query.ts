/**
 * Listing the repositories' templates through the worker (op query). An install keeps the
 * worker's session for the package it then fetches (protocol/request-sequence.ts): one
 * disposable for both.
 */
import { decodeFrames, FrameSequence } from '../../protocol/frames.ts';
import {
  decodeJsonFrame,
  type RepoConfig,
  type PackageListing,
  type QueryWarning,
  type RepomdEvidence,
} from '../../protocol/messages.ts';
import type { App, RepoSet } from '../cli/context.ts';
import { OrchestratorError } from '../errors.ts';
import { checkRepoMetadata, prepareMetadataCheck } from '../repos/metadata-check.ts';
import { startWorker, type WorkerSession } from './session.ts';
import { workerFailure } from './request.ts';

export interface QueryOutcome {
  readonly packages: PackageListing[];
  /**
   * Repository entries the worker skipped (untrusted text, schema-bounded) and the metadata
   * freshness warnings of the orchestrator's own check.
   */
  readonly warnings: QueryWarning[];
  /** The repositories as the query sent them (with minRevision): what a fetch sends too. */
  readonly repos: readonly RepoConfig[];
  /**
   * With `keep`, when the worker answers another request in its session: the session, for the
   * package to fetch next. The caller closes it.
   */
  readonly session?: WorkerSession;
}

export interface QueryOptions {
  /** Keep the worker's session for one more request (an install's first package). */
  readonly keep?: boolean;
}

/**
 * The enabled repositories' packages. The repomd.xml each listing came from is checked for
 * freshness (repos/metadata-check.ts) before the listing is used.
 */
export async function queryRepos(
  app: App,
  repoSet: RepoSet,
  options: QueryOptions = {},
): Promise<QueryOutcome> {
  if (repoSet.worker.length === 0) return { packages: [], warnings: [], repos: [] };
  const metadata = {
    stateDir: app.stateDir,
    definitions: repoSet.definitions,
    keys: repoSet.keys,
    now: Math.floor(Date.now() / 1000),
  };
  const prepared = await prepareMetadataCheck(metadata, repoSet.worker);
  const repos = prepared.repos;
  const session = await startWorker({
    env: app.env,
    admin: app.admin,
    placement: app.placement,
    log: app.log,
    signal: app.signal,
  });
  let kept = false;
  try {
    const { reply } = session.exchange(
      { protocol: 1, op: 'query', releasever: app.releasever, repos: [...repos] },
      { more: options.keep === true },
    );
    const enabled = new Set(repos.map((r) => r.id));
    let result: { packages: PackageListing[]; warnings: QueryWarning[] } | undefined;
    let evidence: RepomdEvidence[] = [];
    let answersMore = false;
    for await (const frame of decodeFrames(reply, { sequence: new FrameSequence('query') })) {
      if (frame.type === 'HELLO') answersMore = (decodeJsonFrame(frame, 'HELLO').requests ?? 1) > 1;
      if (frame.type === 'ERROR') {
        throw workerFailure(frame);
      }
      if (frame.type === 'QUERY_RESULT') {
        // untrusted: from the worker; every field was checked by the schema's patterns and bounds
        const decoded = decodeJsonFrame(frame, 'QUERY_RESULT');
        result = { packages: decoded.packages, warnings: decoded.warnings ?? [] };
        evidence = decoded.repomd;
        for (const p of result.packages) {
          if (!enabled.has(p.repoid))
            throw new OrchestratorError('worker.protocol', `listing names unknown repository ${p.repoid}`);
          if (!p.name.startsWith('qubes-template-'))
            throw new OrchestratorError('worker.protocol', `listing has a non-template package`);
        }
        for (const w of result.warnings) {
          if (!enabled.has(w.repoid))
            throw new OrchestratorError('worker.protocol', `warning names unknown repository ${w.repoid}`);
        }
      }
    }
    if (!result) throw new OrchestratorError('worker.protocol', 'the worker sent no listing');
    const freshness = await checkRepoMetadata(metadata, prepared, evidence);
    kept = options.keep === true && answersMore;
    return {
      packages: result.packages,
      warnings: [...result.warnings, ...freshness],
      repos,
      ...(kept ? { session } : {}),
    };
  } finally {
    if (!kept) await session.close();
  }
}
