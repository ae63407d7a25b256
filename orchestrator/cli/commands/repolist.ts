/** `tmpl repolist [--all|--enabled|--disabled]` and `tmpl clean`. */
import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp, loadRepos } from '../context.ts';
import { flag, value, type OptionSpec } from '../arguments.ts';
import { withLock } from '../../transaction/lock.ts';
import { displayLine } from '../../../protocol/display-text.ts';
import { formatTable } from '../output.ts';
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
    const disabled = flag(args, 'disabled');
    const enabled = flag(args, 'enabled') || (!all && !disabled);
    const shown = repos.definitions.filter((r) => all || (enabled && r.enabled) || (disabled && !r.enabled));
    if (flag(args, 'json')) {
      ctx.stdout.write(
        JSON.stringify({
          command: 'repolist',
          ok: true,
          repos: shown.map((r) => ({ id: r.id, name: r.name, enabled: r.enabled })),
        }) + '\n',
      );
      return 0;
    }
    const rows = [['repo id', 'repo name', ...(all ? ['status'] : [])]];
    for (const r of shown)
      rows.push(
        [r.id, r.name, ...(all ? [r.enabled ? 'enabled' : 'disabled'] : [])].map((c) => displayLine(c)),
      );
    ctx.stdout.write(formatTable(rows));
    return 0;
  },
};

export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'qvm-template');
}

export const cleanCommand: Command = {
  name: 'clean',
  summary: 'remove cached packages (tmpl itself stages nothing on this disk)',
  options: [],
  usage: 'tmpl clean',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env);
    const dir = value(args, 'cachedir') ?? defaultCacheDir(ctx.env);
    const removed = await withLock(app.lockFile, async () => {
      const names = await readdir(dir).catch(() => [] as string[]);
      const packages = names.filter((n) => n.endsWith('.rpm') || n.endsWith('.rpm.part'));
      for (const name of packages) await rm(path.join(dir, name), { force: true });
      return packages;
    });
    if (flag(args, 'json')) ctx.stdout.write(JSON.stringify({ command: 'clean', ok: true, removed }) + '\n');
    return 0;
  },
};
