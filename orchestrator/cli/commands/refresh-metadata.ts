/**
 * `tmpl refresh-metadata TEMPLATE...`: updates a managed template's descriptive features
 * (template-summary, -description, -url, -license) from the repository's signed header of the
 * installed EVR (transaction/refresh-template-metadata.ts); the image is not touched.
 */
import { createApp, loadRepos } from '../context.ts';
import { flag } from '../arguments.ts';
import { OrchestratorError } from '../../errors.ts';
import { withLock } from '../../transaction/lock.ts';
import { refreshTemplateMetadata } from '../../transaction/refresh-template-metadata.ts';
import { formatRefreshed } from '../report-format.ts';
import type { Command } from './types.ts';

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
      for (const name of args.positionals)
        results.push({ template: name, changed: await refreshTemplateMetadata(app, repos, name) });
      return results;
    });
    if (flag(args, 'json'))
      ctx.stdout.write(JSON.stringify({ command: 'refresh-metadata', ok: true, templates: updated }) + '\n');
    else ctx.stdout.write(formatRefreshed(updated));
    return 0;
  },
};
