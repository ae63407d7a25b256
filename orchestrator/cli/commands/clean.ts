/** `tmpl clean`: removes the package files qvm-template leaves in its cache (tmpl stages none). */
import { createApp } from '../context.ts';
import { flag, value } from '../arguments.ts';
import { withLock } from '../../transaction/lock.ts';
import { defaultCacheDir, removeCachedPackages } from '../../transaction/package-cache.ts';
import type { Command } from './types.ts';

export const cleanCommand: Command = {
  name: 'clean',
  summary: 'remove cached packages (tmpl itself stages nothing on this disk)',
  options: [],
  usage: 'tmpl clean',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env);
    const dir = value(args, 'cachedir') ?? defaultCacheDir(ctx.env);
    const removed = await withLock(app.lockFile, () => removeCachedPackages(dir));
    if (flag(args, 'json')) ctx.stdout.write(JSON.stringify({ command: 'clean', ok: true, removed }) + '\n');
    return 0;
  },
};
