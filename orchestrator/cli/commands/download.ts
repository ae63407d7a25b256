/** `tmpl download [--downloaddir DIR] SPEC...`: verified packages, several at once, resumable. */
import PQueue from 'p-queue';
import { createApp, loadRepos } from '../context.ts';
import { flag, value, type OptionSpec } from '../arguments.ts';
import { downloadPackage } from '../../transaction/download-package.ts';
import { OrchestratorError } from '../../errors.ts';
import { withLock } from '../../transaction/lock.ts';
import { queryRepos } from '../../worker/query.ts';
import { candidates, chooseEach } from '../../repos/package-choice.ts';
import { reportQueryWarnings } from '../output.ts';
import type { QueryWarning } from '../../../protocol/messages.ts';
import type { Command } from './types.ts';

/** Packages downloaded at once, each through its own worker. */
export const DOWNLOAD_CONCURRENCY = 2;

const OPTIONS: readonly OptionSpec[] = [
  { name: 'downloaddir', kind: 'value', metavar: 'DIR', help: 'where to put the packages (default: .)' },
  {
    name: 'retries',
    kind: 'value',
    metavar: 'N',
    help: 'accepted for compatibility; the worker resumes and fails over itself',
  },
  { name: 'nogpgcheck', kind: 'flag', help: 'do not check signatures (the payload digest is still checked)' },
];

export const downloadCommand: Command = {
  name: 'download',
  summary: 'download template packages, verified, without installing them',
  options: OPTIONS,
  usage: 'tmpl download [--downloaddir DIR] TEMPLATESPEC...',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env, ctx.signal);
    const dir = value(args, 'downloaddir') ?? '.';
    if (args.positionals.length === 0)
      throw new OrchestratorError('usage', 'download: at least one template is required');
    let warnings: readonly QueryWarning[] = [];
    const results = await withLock(app.lockFile, async () => {
      const repos = await loadRepos(app, args);
      const query = await queryRepos(app, repos, { keep: true });
      // The first package goes to the worker that listed the repositories (one disposable).
      let kept = query.session;
      warnings = query.warnings;
      try {
        reportQueryWarnings(ctx.stderr, flag(args, 'json'), warnings);
        const chosen = chooseEach(args.positionals, candidates(query.packages));
        const queue = new PQueue({ concurrency: DOWNLOAD_CONCURRENCY });
        const download = async (c: (typeof chosen)[number]) => {
          const repo = repos.worker.find((r) => r.id === c.repoid)!;
          const nogpgcheck = flag(args, 'nogpgcheck') || !repo.gpgcheck;
          const keys = repos.keys.get(c.repoid) ?? [];
          const session = kept;
          kept = undefined;
          // The repositories as the query sent them (minRevision included): the worker reuses their metadata.
          const done = await downloadPackage(app, query.repos, keys, c, { dir, nogpgcheck, session });
          return {
            template: c.templateName,
            path: done.path,
            resumedFrom: done.resumedFrom,
            bytes: done.bytes,
          };
        };
        return await Promise.all(chosen.map((c) => queue.add(() => download(c))));
      } finally {
        await kept?.close();
      }
    });
    if (flag(args, 'json'))
      ctx.stdout.write(JSON.stringify({ command: 'download', ok: true, packages: results, warnings }) + '\n');
    else for (const r of results) ctx.stdout.write(`${r.path}\n`);
    return 0;
  },
};
