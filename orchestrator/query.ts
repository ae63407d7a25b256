/** Listing the repositories' templates through the worker (op query). */
import { decodeFrames, FrameSequence } from '../protocol/frames.ts';
import { decodeJsonFrame, type PackageListing, type RepoConfig } from '../protocol/messages.ts';
import type { App } from './app.ts';
import { OrchestratorError } from './errors.ts';
import { startWorker } from './worker-session.ts';
import { sendRequest, workerFailure } from './worker-io.ts';

export async function queryRepos(app: App, repos: readonly RepoConfig[]): Promise<PackageListing[]> {
  if (repos.length === 0) return [];
  const session = await startWorker({
    env: app.env,
    admin: app.admin,
    placement: app.placement,
    log: app.log,
    signal: app.signal,
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
    for await (const frame of decodeFrames(session.stdout, { sequence: new FrameSequence('query') })) {
      if (frame.type === 'ERROR') {
        throw workerFailure(frame);
      }
      if (frame.type === 'QUERY_RESULT') {
        // untrusted: from the worker; every field was checked by the schema's patterns and bounds
        packages = decodeJsonFrame(frame, 'QUERY_RESULT').packages;
        for (const p of packages) {
          if (!enabled.has(p.repoid))
            throw new OrchestratorError('worker.protocol', `listing names unknown repository ${p.repoid}`);
          if (!p.name.startsWith('qubes-template-'))
            throw new OrchestratorError('worker.protocol', `listing has a non-template package`);
        }
      }
    }
    if (!packages) throw new OrchestratorError('worker.protocol', 'the worker sent no listing');
    return packages;
  } finally {
    await session.close();
  }
}
