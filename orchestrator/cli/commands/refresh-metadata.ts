/**
 * `tmpl refresh-metadata TEMPLATE...`: updates a managed template's descriptive features
 * (template-summary, -description, -url, -license) from the repository's signed header of the
 * installed EVR. The worker fetches only the package's head (an HTTP Range request); the
 * orchestrator verifies its signature with the repository's key; the image is not touched.
 */
import { VerificationError } from '../../../protocol/errors.ts';
import { decodeFrames, FrameSequence } from '../../../protocol/frames.ts';
import { packageInfo } from '../../../protocol/rpm-info.ts';
import { displayLine } from '../../../protocol/display-text.ts';
import { createApp, loadRepos, type App } from '../context.ts';
import { flag } from '../arguments.ts';
import { OrchestratorError } from '../../errors.ts';
import { installedTemplate } from '../../qubes/installed-templates.ts';
import { withLock } from '../../transaction/lock.ts';
import { featureValue } from '../../qubes/template-features.ts';
import { verifyHead } from '../../verify/package-head.ts';
import { startWorker } from '../../worker/session.ts';
import type { Command } from './types.ts';
import type { RepoSet } from '../context.ts';
import { sendRequest, workerFailure } from '../../worker/request.ts';
import type { TemplateFeatureName } from '../../transaction/template-plan.ts';

async function fetchHead(
  app: App,
  repos: RepoSet,
  ref: { repoid: string; name: string; epoch: number; version: string; release: string },
): Promise<Uint8Array> {
  const session = await startWorker({
    env: app.env,
    admin: app.admin,
    placement: app.placement,
    log: app.log,
  });
  try {
    await sendRequest(session.stdin, {
      protocol: 1,
      op: 'header',
      releasever: app.releasever,
      repos: [...repos.worker],
      package: ref,
    });
    let head: Uint8Array | undefined;
    for await (const frame of decodeFrames(session.stdout, { sequence: new FrameSequence('header') })) {
      if (frame.type === 'ERROR') {
        throw workerFailure(frame);
      }
      if (frame.type === 'HEAD') head = frame.payload;
    }
    if (!head) throw new OrchestratorError('worker.protocol', 'the worker sent no head');
    return head;
  } finally {
    await session.close();
  }
}

export const refreshMetadataCommand: Command = {
  name: 'refresh-metadata',
  summary: "update managed templates' descriptive features from the signed package header, without the image",
  options: [],
  usage: 'tmpl refresh-metadata TEMPLATE...',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env);
    if (args.positionals.length === 0)
      throw new OrchestratorError('usage', 'refresh-metadata: at least one template is required');
    const updated = await withLock(app.lockFile, async () => {
      const repos = await loadRepos(app, args);
      const results: { template: string; changed: string[] }[] = [];
      for (const name of args.positionals) {
        if (!(await app.admin.vmExists(name)))
          throw new OrchestratorError('template.not-found', `Template '${displayLine(name)}' not installed.`);
        const t = await installedTemplate(app.admin, name);
        if (!t.managed)
          throw new OrchestratorError(
            'template.not-managed',
            `Template '${name}' is not managed by tmpl or qvm-template`,
          );
        const repo = repos.worker.find((r) => r.id === t.reponame);
        if (!repo)
          throw new OrchestratorError('config.repo', `repository '${t.reponame}' of ${name} is not enabled`);
        const ref = {
          repoid: repo.id,
          name: `qubes-template-${name}`,
          epoch: t.epoch,
          version: t.version,
          release: t.release,
        };
        const headBytes = await fetchHead(app, repos, ref);
        const { head } = await verifyHead(headBytes, repos.keys.get(repo.id) ?? [], {
          nogpgcheck: !repo.gpgcheck,
        });
        const info = packageInfo(head.header);
        if (
          info.name !== ref.name ||
          (info.epoch ?? 0) !== t.epoch ||
          info.version !== t.version ||
          info.release !== t.release
        ) {
          throw new VerificationError(
            'package.unexpected',
            `the header is not ${ref.name}-${t.epoch}:${t.version}-${t.release}`,
          );
        }
        const changed: string[] = [];
        for (const [feature, value] of [
          ['template-summary', info.summary],
          ['template-description', info.description],
          ['template-url', info.url],
          ['template-license', info.license],
        ] as const satisfies readonly (readonly [TemplateFeatureName, string])[]) {
          const v = featureValue(value);
          if ((await app.admin.getFeature(name, feature)) !== v) {
            await app.admin.setFeature(name, feature, v);
            changed.push(feature);
          }
        }
        results.push({ template: name, changed });
      }
      return results;
    });
    if (flag(args, 'json'))
      ctx.stdout.write(JSON.stringify({ command: 'refresh-metadata', ok: true, templates: updated }) + '\n');
    else
      for (const u of updated)
        ctx.stdout.write(
          `${u.template}: ${u.changed.length ? `updated ${u.changed.join(', ')}` : 'up to date'}\n`,
        );
    return 0;
  },
};
