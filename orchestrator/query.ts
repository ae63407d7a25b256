/** Listing the repositories' templates through the worker (op query). */
import { decodeFrames, FrameSequence } from '../protocol/frames.ts';
import {
  decodeJsonFrame,
  type PackageListing,
  type QueryWarning,
  type RepoConfig,
} from '../protocol/messages.ts';
import type { App } from './app.ts';
import { OrchestratorError } from './errors.ts';
import { startWorker } from './worker-session.ts';
import { sendRequest, workerFailure } from './worker-io.ts';

export interface QueryOutcome {
  readonly packages: PackageListing[];
  /** untrusted: from the worker; repository entries it skipped (schema-bounded). */
  readonly warnings: QueryWarning[];
}

export async function queryRepos(app: App, repos: readonly RepoConfig[]): Promise<QueryOutcome> {
  if (repos.length === 0) return { packages: [], warnings: [] };
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
    let result: QueryOutcome | undefined;
    for await (const frame of decodeFrames(session.stdout, { sequence: new FrameSequence('query') })) {
      if (frame.type === 'ERROR') {
        throw workerFailure(frame);
      }
      if (frame.type === 'QUERY_RESULT') {
        // untrusted: from the worker; every field was checked by the schema's patterns and bounds
        const decoded = decodeJsonFrame(frame, 'QUERY_RESULT');
        result = { packages: decoded.packages, warnings: decoded.warnings ?? [] };
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
    return result;
  } finally {
    await session.close();
  }
}
