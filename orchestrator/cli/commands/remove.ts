/**
 * `tmpl remove [--disassoc] [--force] [--dry-run] NAME...` and `tmpl purge [--dry-run] NAME...`.
 *
 * Unlike the incumbent, remove touches only templates tmpl (or qvm-template) manages unless
 * --force is given, refuses while anything uses the template (listing the users), and
 * --dry-run shows exactly what would change without changing it. purge removes the templates
 * and, recursively, every VM that depends on them, after three confirmations. The planning is
 * transaction/remove-plan.ts.
 */
import { createApp } from '../context.ts';
import { flag, type OptionSpec } from '../arguments.ts';
import { withLock } from '../../transaction/lock.ts';
import { confirm } from '../prompt.ts';
import { describeRemovePlan } from '../../transaction/remove-plan.ts';
import { executeRemove, prepareRemove } from '../../transaction/remove-templates.ts';
import { forgetTemplate, stateDir } from '../../transaction/rollback-state.ts';
import type { Command } from './types.ts';

function removeOptions(purge: boolean): OptionSpec[] {
  const options: OptionSpec[] = [
    { name: 'dry-run', kind: 'flag', help: 'show what would be removed and changed, change nothing' },
  ];
  if (purge) return options;
  return [
    ...options,
    { name: 'disassoc', kind: 'flag', help: "re-point VMs that use the template to a 'dummy' template" },
    { name: 'force', kind: 'flag', help: 'also remove templates tmpl does not manage' },
  ];
}

function removeCommand(purge: boolean): Command {
  const name = purge ? 'purge' : 'remove';
  return {
    name,
    summary: purge ? 'remove templates and every VM based on them' : 'remove templates',
    options: removeOptions(purge),
    usage: `tmpl ${name} [OPTIONS] TEMPLATE...`,
    async run(ctx) {
      const args = ctx.args!;
      const app = createApp(args, ctx.env);
      const json = flag(args, 'json');
      return withLock(app.lockFile, async () => {
        const p = await prepareRemove(app.admin, args.positionals, {
          purge,
          force: flag(args, 'force'),
          disassoc: flag(args, 'disassoc'),
        });
        const steps = describeRemovePlan(p);
        const dryRun = flag(args, 'dry-run');
        const report = { command: name, ok: true, ...(dryRun ? { dryRun } : {}), steps, remove: p.remove };
        if (dryRun) {
          ctx.stdout.write(json ? JSON.stringify(report) + '\n' : steps.map((s) => `would ${s}\n`).join(''));
          return 0;
        }
        const rounds = purge ? 3 : 1;
        for (let i = 1; i <= rounds; i++) {
          const round = rounds > 1 ? ` (confirmation ${i} of ${rounds})` : '';
          await confirm(ctx, app, `This will completely remove the selected VM(s)${round}...`, p.remove);
        }
        await executeRemove(app.admin, p);
        for (const vm of p.remove) await forgetTemplate(stateDir(ctx.env), vm);
        if (json) ctx.stdout.write(JSON.stringify(report) + '\n');
        else for (const s of steps) ctx.stderr.write(`${s}\n`);
        return 0;
      });
    },
  };
}

export const removeCommands: readonly Command[] = [removeCommand(false), removeCommand(true)];
