/** Listing the repositories' templates through the worker (op query). */
import { decodeFrames, FrameSequence } from '../protocol/frames.ts';
import { decodeJsonFrame, type PackageListing, type RepomdEvidence } from '../protocol/messages.ts';
import type { App, RepoSet } from './app.ts';
import { OrchestratorError } from './errors.ts';
import { checkRepoMetadata, prepareMetadataCheck } from './repo-metadata-check.ts';
import { startWorker } from './worker-session.ts';
import { sendRequest, workerFailure } from './worker-io.ts';

/**
 * The enabled repositories' packages. The repomd.xml each listing came from is checked for
 * freshness (repo-metadata-check.ts) before the listing is used; its warnings go to app.warnings.
 */
export async function queryRepos(app: App, repoSet: RepoSet): Promise<PackageListing[]> {
  if (repoSet.worker.length === 0) return [];
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
  });
  try {
    await sendRequest(session.stdin, {
      protocol: 1,
      op: 'query',
      releasever: app.releasever,
      repos: [...repos],
    });
    const enabled = new Set(repos.map((r) => r.id));
    let packages: PackageListing[] | undefined;
    let evidence: RepomdEvidence[] = [];
    for await (const frame of decodeFrames(session.stdout, { sequence: new FrameSequence('query') })) {
      if (frame.type === 'ERROR') {
        throw workerFailure(frame);
      }
      if (frame.type === 'QUERY_RESULT') {
        // untrusted: from the worker; every field was checked by the schema's patterns and bounds
        const result = decodeJsonFrame(frame, 'QUERY_RESULT');
        packages = result.packages;
        evidence = result.repomd;
        for (const p of packages) {
          if (!enabled.has(p.repoid))
            throw new OrchestratorError('worker.protocol', `listing names unknown repository ${p.repoid}`);
          if (!p.name.startsWith('qubes-template-'))
            throw new OrchestratorError('worker.protocol', `listing has a non-template package`);
        }
      }
    }
    if (!packages) throw new OrchestratorError('worker.protocol', 'the worker sent no listing');
    app.warnings.push(...(await checkRepoMetadata(metadata, prepared, evidence)));
    return packages;
  } finally {
    await session.close();
  }
}
