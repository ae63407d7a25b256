/**
 * `tmpl remove [--disassoc] [--force] [--dry-run] NAME...` and `tmpl purge [--dry-run] NAME...`.
 *
 * Unlike the incumbent, remove touches only templates tmpl (or qvm-template) manages unless
 * --force is given, refuses while anything uses the template (listing the users), and
 * --dry-run shows exactly what would change without changing it. purge removes the templates
 * and, recursively, every VM that depends on them, after three confirmations.
 */
import { createApp, type App } from '../context.ts';
import { flag, type OptionSpec } from '../arguments.ts';
import { describeDependency, vmDependencies, type Dependency } from '../../qubes/vm-dependencies.ts';
import { OrchestratorError } from '../../errors.ts';
import { installedTemplate } from '../../qubes/installed-templates.ts';
import { withLock } from '../../transaction/lock.ts';
import { displayLine } from '../../../protocol/display-text.ts';
import { confirm } from '../prompt.ts';
import { forgetTemplate, stateDir } from '../../transaction/rollback-state.ts';
import type { Command, CommandContext } from './types.ts';

export const DUMMY_TEMPLATE = 'dummy';

interface Plan {
  readonly remove: readonly string[];
  /** Properties to re-point to the dummy template (disassoc/purge) or to reset (globals). */
  readonly repoint: readonly Dependency[];
  readonly dummy: string | undefined;
  readonly createDummy: boolean;
}

async function dummyName(app: App, existing: Set<string>): Promise<{ name: string; create: boolean }> {
  let name = DUMMY_TEMPLATE;
  for (let n = 1; existing.has(name); n++) {
    if ((await app.admin.getFeature(name, 'template-dummy')) === '1') return { name, create: false };
    name = `${DUMMY_TEMPLATE}-${n}`;
  }
  return { name, create: true };
}

async function plan(ctx: CommandContext, app: App, purge: boolean): Promise<Plan> {
  const args = ctx.args!;
  const names = args.positionals;
  if (names.length === 0) throw new OrchestratorError('usage', 'at least one template name is required');
  const vms = new Map((await app.admin.listVms()).map((v) => [v.name, v]));
  for (const name of names) {
    const vm = vms.get(name);
    if (!vm) throw new OrchestratorError('template.not-found', `no such domain: '${displayLine(name)}'`);
    if (vm.klass !== 'TemplateVM') throw new OrchestratorError('usage', `'${name}' is not a template`);
    if (!flag(args, 'force') && !(await installedTemplate(app.admin, name)).managed) {
      throw new OrchestratorError(
        'template.not-managed',
        `'${name}' is not managed by tmpl or qvm-template; use --force to remove it anyway`,
      );
    }
  }
  const remove = [...names];
  const repoint: Dependency[] = [];
  if (purge) {
    for (let i = 0; i < remove.length; i++) {
      for (const d of await vmDependencies(app.admin, remove[i]!)) {
        if (d.holder !== undefined && !remove.includes(d.holder)) remove.push(d.holder);
      }
    }
  }
  for (const name of remove) {
    for (const d of await vmDependencies(app.admin, name)) {
      if (d.holder !== undefined && remove.includes(d.holder)) continue;
      repoint.push(d);
    }
  }
  const disassoc = purge || flag(args, 'disassoc');
  if (repoint.length > 0 && !disassoc) {
    throw new OrchestratorError(
      'qubes.vm-in-use',
      `cannot remove: in use by ${repoint.map(describeDependency).join(', ')}; use --disassoc to re-point them to a dummy template`,
    );
  }
  let dummy: { name: string; create: boolean } | undefined;
  if (repoint.some((d) => d.holder !== undefined)) dummy = await dummyName(app, new Set(vms.keys()));
  return { remove, repoint, dummy: dummy?.name, createDummy: dummy?.create ?? false };
}

function describePlan(p: Plan): string[] {
  const lines: string[] = [];
  if (p.createDummy) lines.push(`create template ${p.dummy} (feature template-dummy=1)`);
  for (const d of p.repoint) {
    lines.push(
      d.holder === undefined
        ? `set global property ${d.property} to ''`
        : `set ${d.property} of ${d.holder} to ${p.dummy}`,
    );
  }
  // in the order execute() removes them
  for (const name of [...p.remove].reverse()) lines.push(`remove ${name}`);
  return lines;
}

async function execute(app: App, p: Plan): Promise<void> {
  const { admin } = app;
  if (p.createDummy && p.dummy) {
    await admin.createTemplate(p.dummy, 'red');
    await admin.setFeature(p.dummy, 'template-dummy', '1');
  }
  for (const d of p.repoint) {
    if (d.holder === undefined) await admin.setGlobalProperty(d.property, '');
    else await admin.setProperty(d.holder, d.property, p.dummy!);
  }
  for (const name of p.remove) {
    try {
      await admin.kill(name);
    } catch {
      // already halted
    }
  }
  // Dependents first: purge found them breadth-first from the template, and Qubes refuses to
  // remove a VM that another VM still uses.
  for (const name of [...p.remove].reverse()) await admin.removeVm(name);
}

function removeCommand(purge: boolean): Command {
  const options: OptionSpec[] = [
    { name: 'dry-run', kind: 'flag', help: 'show what would be removed and changed, change nothing' },
  ];
  if (!purge) {
    options.push(
      { name: 'disassoc', kind: 'flag', help: "re-point VMs that use the template to a 'dummy' template" },
      { name: 'force', kind: 'flag', help: 'also remove templates tmpl does not manage' },
    );
  }
  const name = purge ? 'purge' : 'remove';
  return {
    name,
    summary: purge ? 'remove templates and every VM based on them' : 'remove templates',
    options,
    usage: `tmpl ${name} [OPTIONS] TEMPLATE...`,
    async run(ctx) {
      const args = ctx.args!;
      const app = createApp(args, ctx.env);
      return withLock(app.lockFile, async () => {
        const p = await plan(ctx, app, purge);
        const steps = describePlan(p);
        if (flag(args, 'dry-run')) {
          if (flag(args, 'json'))
            ctx.stdout.write(
              JSON.stringify({ command: name, ok: true, dryRun: true, steps, remove: p.remove }) + '\n',
            );
          else ctx.stdout.write(steps.map((s) => `would ${s}\n`).join(''));
          return 0;
        }
        const rounds = purge ? 3 : 1;
        for (let i = 1; i <= rounds; i++) {
          await confirm(
            ctx,
            app,
            `This will completely remove the selected VM(s)${rounds > 1 ? ` (confirmation ${i} of ${rounds})` : ''}...`,
            p.remove,
          );
        }
        await execute(app, p);
        for (const vm of p.remove) await forgetTemplate(stateDir(ctx.env), vm);
        if (flag(args, 'json'))
          ctx.stdout.write(JSON.stringify({ command: name, ok: true, steps, remove: p.remove }) + '\n');
        else for (const s of steps) ctx.stderr.write(`${s}\n`);
        return 0;
      });
    },
  };
}

export const removeCommands: readonly Command[] = [removeCommand(false), removeCommand(true)];
