/** Listing the repositories' templates through the worker (op query). */
import { once } from 'node:events';
import { decodeFrames, FrameSequence } from '../protocol/frames.ts';
import {
  decodeJsonFrame,
  encodeRequest,
  type PackageListing,
  type RepoConfig,
} from '../protocol/messages.ts';
import { sanitize } from './admin-reply.ts';
import type { App } from './app.ts';
import { OrchestratorError } from './errors.ts';
import { startWorker } from './worker-session.ts';

export async function queryRepos(app: App, repos: readonly RepoConfig[]): Promise<PackageListing[]> {
  if (repos.length === 0) return [];
  const session = await startWorker({
    env: app.env,
    admin: app.admin,
    placement: app.placement,
    log: app.log,
  });
  try {
    const request = encodeRequest({
      protocol: 1,
      op: 'query',
      releasever: app.releasever,
      repos: [...repos],
    });
    if (!session.stdin.write(request)) await once(session.stdin, 'drain');
    session.stdin.end();
    const enabled = new Set(repos.map((r) => r.id));
    let packages: PackageListing[] | undefined;
    for await (const frame of decodeFrames(session.stdout, { sequence: new FrameSequence('query') })) {
      if (frame.type === 'ERROR') {
        const e = decodeJsonFrame(frame, 'ERROR');
        throw new OrchestratorError(
          'worker.reported-error',
          `the worker failed: [${e.code}] ${sanitize(e.message)}`,
        );
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
