/** `tmpl search [--all] KEYWORD...`: qvm-template's ranking (repos/template-search.ts) and output. */
import { createApp, loadRepos } from '../context.ts';
import { flag, type OptionSpec } from '../arguments.ts';
import { listInstalled } from '../../qubes/installed-templates.ts';
import { reportQueryWarnings } from '../output.ts';
import { queryRepos } from '../../worker/query.ts';
import { candidates } from '../../repos/package-choice.ts';
import { latestEntries, rankTemplates } from '../../repos/template-search.ts';
import { formatSearchResults } from '../report-format.ts';
import type { Command } from './types.ts';

export const searchCommand: Command = {
  name: 'search',
  summary: 'search templates by name and summary (--all: also description and URL)',
  options: [
    { name: 'all', kind: 'flag', help: 'also match description and URL, any keyword' } satisfies OptionSpec,
  ],
  usage: 'tmpl search [--all] KEYWORD...',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env, ctx.signal);
    const repos = await loadRepos(app, args);
    const query = await queryRepos(app, repos);
    reportQueryWarnings(ctx.stderr, flag(args, 'json'), query.warnings);
    const remote = candidates(query.packages).map((c) => ({ ...c, name: c.templateName }));
    const local = (await listInstalled(app.admin))
      .filter((t) => t.managed)
      .map((t) => ({ ...t, description: t.description.replace(/\|/g, '\n') }));
    const results = rankTemplates(latestEntries(remote, local), args.positionals, flag(args, 'all'));
    if (flag(args, 'json')) {
      ctx.stdout.write(
        JSON.stringify({ command: 'search', ok: true, results, warnings: query.warnings }) + '\n',
      );
    } else ctx.stdout.write(formatSearchResults(results));
    return 0;
  },
};
