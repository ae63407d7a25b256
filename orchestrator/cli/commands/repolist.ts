/** `tmpl repolist [--all|--enabled|--disabled]`: the configured repositories, as dnf lists them. */
import { createApp, loadRepos } from '../context.ts';
import { flag, type OptionSpec } from '../arguments.ts';
import { listedRepos } from '../../repos/repo-selection.ts';
import { formatRepoList } from '../report-format.ts';
import type { Command } from './types.ts';

const OPTIONS: readonly OptionSpec[] = [
  { name: 'all', kind: 'flag', help: 'all repositories' },
  { name: 'enabled', kind: 'flag', help: 'enabled repositories (the default)' },
  { name: 'disabled', kind: 'flag', help: 'disabled repositories' },
];

export const repolistCommand: Command = {
  name: 'repolist',
  summary: 'list the configured template repositories',
  options: OPTIONS,
  usage: 'tmpl repolist [--all|--enabled|--disabled]',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env);
    const repos = await loadRepos(app, args);
    const all = flag(args, 'all');
    const shown = listedRepos(repos.definitions, {
      all,
      enabled: flag(args, 'enabled'),
      disabled: flag(args, 'disabled'),
    });
    if (flag(args, 'json')) {
      const listed = shown.map((r) => ({ id: r.id, name: r.name, enabled: r.enabled }));
      ctx.stdout.write(JSON.stringify({ command: 'repolist', ok: true, repos: listed }) + '\n');
    } else ctx.stdout.write(formatRepoList(shown, all));
    return 0;
  },
};
