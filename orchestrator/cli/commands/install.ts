/**
 * `tmpl install|reinstall|upgrade|downgrade SPEC...` (and `tmpl-install`): every package is
 * fetched, verified and unpacked by a worker in a disposable; only verified data is imported.
 * The plan is transaction/install-plan.ts, the run transaction/install-run.ts.
 */
import { displayLine } from '../../../protocol/display-text.ts';
import { flag, value, values, type OptionSpec } from '../arguments.ts';
import { createApp, defaultKeyring, loadRepos, type App } from '../context.ts';
import { OrchestratorError } from '../../errors.ts';
import type { InstallMode } from '../../transaction/install-template.ts';
import { runInstall, type InstallRequest } from '../../transaction/install-run.ts';
import { stateDir } from '../../transaction/rollback-state.ts';
import { reportQueryWarnings } from '../output.ts';
import { progressMode, progressSink } from '../progress.ts';
import { confirm } from '../prompt.ts';
import type { Command, CommandContext } from './types.ts';

const INSTALL_OPTIONS: readonly OptionSpec[] = [
  { name: 'pool', kind: 'value', metavar: 'POOL', help: 'storage pool for a new template' },
  { name: 'allow-pv', kind: 'flag', help: 'allow virt_mode pv from template.conf' },
  { name: 'skip-start', kind: 'flag', help: 'do not start the template for qubes.PostInstall' },
  { name: 'nogpgcheck', kind: 'flag', help: 'do not check package signatures (digests are still checked)' },
  {
    name: 'downloaddir',
    kind: 'value',
    metavar: 'DIR',
    help: 'accepted for compatibility; nothing is stored',
  },
  {
    name: 'retries',
    kind: 'value',
    metavar: 'N',
    help: 'accepted for compatibility; the worker resumes and fails over itself',
  },
];

/** What the command line asks for. */
function installRequest(ctx: CommandContext, app: App, mode: InstallMode): InstallRequest {
  const args = ctx.args!;
  if (args.positionals.length === 0)
    throw new OrchestratorError('usage', `${mode}: at least one template is required`);
  const display = progressMode(value(args, 'progress'), process.stderr.isTTY === true && !app.json);
  const sink = progressSink(display, ctx.stdout, ctx.stderr);
  const keyrings = values(args, 'keyring');
  const pool = value(args, 'pool');
  return {
    mode,
    specs: args.positionals,
    nogpgcheck: flag(args, 'nogpgcheck'),
    keyrings: keyrings.length > 0 ? keyrings : [defaultKeyring(app.releasever)],
    allowPv: flag(args, 'allow-pv'),
    skipStart: flag(args, 'skip-start'),
    ...(pool ? { pool } : {}),
    stateDir: stateDir(ctx.env),
    ...(sink ? { onProgress: sink } : {}),
  };
}

function installCommand(mode: InstallMode, summary: string): Command {
  return {
    name: mode,
    summary,
    options: mode === 'install' ? INSTALL_OPTIONS : INSTALL_OPTIONS.filter((o) => o.name !== 'pool'),
    usage: `tmpl ${mode} [OPTIONS] TEMPLATESPEC|PKG.rpm...`,
    async run(ctx) {
      const app = createApp(ctx.args!, ctx.env, ctx.signal);
      const { outcomes, warnings } = await runInstall(app, installRequest(ctx, app, mode), {
        repos: () => loadRepos(app, ctx.args!),
        confirm: (names) => confirm(ctx, app, 'This will override changes made in the following VMs:', names),
        warn: (list) => reportQueryWarnings(ctx.stderr, app.json, list),
      });
      if (app.json) {
        ctx.stdout.write(JSON.stringify({ command: mode, ok: true, templates: outcomes, warnings }) + '\n');
        return 0;
      }
      for (const o of outcomes) {
        // package and evr come from a header that a hostile packager may have signed
        const line =
          o.message ?? `Template '${o.template}' ${o.status}: ${o.package}-${o.evr} from ${o.repo}`;
        (o.message ? ctx.stderr : ctx.stdout).write(displayLine(line) + '\n');
      }
      return 0;
    },
  };
}

export const installCommands: readonly Command[] = [
  installCommand('install', 'install templates'),
  installCommand('reinstall', 'reinstall templates at the installed version'),
  installCommand('upgrade', 'upgrade templates to the highest version available'),
  installCommand('downgrade', 'downgrade templates to the highest lower version'),
];
