/**
 * `tmpl setup [--check]`: prepares the worker's disposable template and ends with a round trip to
 * tmpl.Worker in a disposable; `--check` changes nothing and names what is missing, each with a
 * stable code and the command that fixes it. The work is orchestrator/transaction/worker-setup-run.ts.
 */
import { flag, value, type OptionSpec } from '../arguments.ts';
import { createApp } from '../context.ts';
import { OrchestratorError } from '../../errors.ts';
import { DEFAULT_WORKER_DVM } from '../../qubes/worker-setup.ts';
import { runSetup } from '../../transaction/worker-setup-run.ts';
import { formatProblems, setupJson } from '../setup-findings.ts';
import type { Command } from './types.ts';

const OPTIONS: readonly OptionSpec[] = [
  { name: 'check', kind: 'flag', help: 'change nothing: say what is missing and the command that fixes it' },
  {
    name: 'name',
    kind: 'value',
    metavar: 'NAME',
    help: `the worker's disposable template (default ${DEFAULT_WORKER_DVM})`,
  },
  {
    name: 'template',
    kind: 'value',
    metavar: 'TEMPLATE',
    help: 'base it on this template, which has tmpl-worker (default: one that has it)',
  },
  { name: 'netvm', kind: 'value', metavar: 'NETVM', help: "the disposables' netvm (default: the system's)" },
  {
    name: 'preload',
    kind: 'value',
    metavar: 'N',
    help: 'keep N disposables started (feature preload-dispvm-max, Qubes 4.3)',
  },
  {
    name: 'manager',
    kind: 'value',
    metavar: 'VM',
    help: 'in dom0: tag VM tmpl-manager and point its default_dispvm at the worker',
  },
];

function preloadCount(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,3}$/.test(text))
    throw new OrchestratorError('usage', `--preload takes a number, not '${text}'`);
  return Number(text);
}

export const setupCommand: Command = {
  name: 'setup',
  summary: "prepare the worker's disposable template and check that the worker answers",
  options: OPTIONS,
  usage:
    'tmpl setup [--check] [--name NAME] [--template TEMPLATE] [--netvm NETVM] [--preload N] [--manager VM]',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env, ctx.signal);
    const manager = value(args, 'manager');
    if (manager !== undefined && app.env.mode !== 'dom0')
      throw new OrchestratorError('usage', '--manager is for dom0: a management qube cannot tag itself');
    const check = flag(args, 'check');
    const report = await runSetup(
      {
        env: app.env,
        processEnv: ctx.env,
        admin: app.admin,
        log: app.log,
        releasever: app.releasever,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      },
      {
        check,
        name: value(args, 'name') ?? DEFAULT_WORKER_DVM,
        ...(value(args, 'template') !== undefined ? { template: value(args, 'template')! } : {}),
        ...(value(args, 'netvm') !== undefined ? { netvm: value(args, 'netvm')! } : {}),
        ...(preloadCount(value(args, 'preload')) !== undefined
          ? { preload: preloadCount(value(args, 'preload'))! }
          : {}),
        ...(manager !== undefined ? { manager } : {}),
      },
    );
    if (app.json) {
      ctx.stdout.write(JSON.stringify(setupJson(report, check)) + '\n');
    } else {
      for (const change of report.changed) ctx.stdout.write(`changed: ${change}\n`);
      ctx.stdout.write(formatProblems(report.problems));
      if (report.ok)
        ctx.stdout.write(
          check || report.changed.length === 0
            ? 'tmpl setup: ready; the worker answers in a disposable\n'
            : 'tmpl setup: done; the worker answers in a disposable\n',
        );
    }
    return report.ok ? 0 : 1;
  },
};
