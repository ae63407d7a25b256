/**
 * `tmpl install|reinstall|upgrade|downgrade SPEC...` (and `tmpl-install`): every package is
 * fetched, verified and unpacked by a worker in a disposable; only verified data is imported.
 */
import { confirm } from '../prompt.ts';
import { formatEvr } from '../../../protocol/evr.ts';
import { createApp, loadRepos, defaultKeyring } from '../context.ts';
import { flag, value, values, type OptionSpec, type ParsedArgs } from '../arguments.ts';
import { OrchestratorError } from '../../errors.ts';
import { installTemplate, type InstallMode, type InstallResult } from '../../transaction/install-template.ts';
import { startWorker, type WorkerSession } from '../../worker/session.ts';
import { installedTemplate } from '../../qubes/installed-templates.ts';
import { loadKeyring } from '../../verify/keyring.ts';
import { withLock } from '../../transaction/lock.ts';
import { queryRepos } from '../../worker/query.ts';
import PQueue from 'p-queue';
import { candidates, matching, select, type Candidate } from '../../repos/package-choice.ts';
import { displayLine } from '../../../protocol/display-text.ts';
import { reportQueryWarnings } from '../output.ts';
import type { QueryWarning } from '../../../protocol/messages.ts';
import { progressMode, progressSink } from '../progress.ts';
import { checkRollback, recordInstalled, stateDir } from '../../transaction/rollback-state.ts';
import type { Command, CommandContext } from './types.ts';

/** Templates installed at once, each in its own disposable. */
export const INSTALL_CONCURRENCY = 2;

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

export interface TemplateOutcome {
  readonly template: string;
  readonly status: 'installed' | 'reinstalled' | 'upgraded' | 'downgraded' | 'already-installed' | 'skipped';
  readonly package?: string;
  readonly evr?: string;
  readonly repo?: string;
  readonly message?: string;
  readonly warnings?: readonly string[];
}

const DONE: Record<InstallMode, TemplateOutcome['status']> = {
  install: 'installed',
  reinstall: 'reinstalled',
  upgrade: 'upgraded',
  downgrade: 'downgraded',
};

async function runInstall(
  ctx: CommandContext,
  args: ParsedArgs,
  mode: InstallMode,
): Promise<{ outcomes: TemplateOutcome[]; warnings: readonly QueryWarning[] }> {
  const app = createApp(args, ctx.env, ctx.signal);
  const specs = args.positionals;
  if (specs.length === 0) throw new OrchestratorError('usage', `${mode}: at least one template is required`);
  const nogpgcheck = flag(args, 'nogpgcheck');
  const state = stateDir(ctx.env);
  const common = {
    mode,
    checkVersion: async (head: {
      templateName: string;
      info: { epoch: number | null; version: string; release: string };
    }) => {
      const { info } = head;
      await checkRollback(
        state,
        head.templateName,
        { epoch: info.epoch ?? 0, version: info.version, release: info.release },
        mode,
      );
    },
    allowPv: flag(args, 'allow-pv'),
    skipStart: flag(args, 'skip-start'),
    nogpgcheck,
    ...(value(args, 'pool') ? { pool: value(args, 'pool')! } : {}),
  };
  const display = progressMode(value(args, 'progress'), process.stderr.isTTY === true && !flag(args, 'json'));
  const sink = progressSink(display, ctx.stdout, ctx.stderr);
  const ictx = {
    ...(sink ? { onProgress: sink } : {}),
    admin: app.admin,
    env: app.env,
    log: app.log,
    placement: app.placement,
    releasever: app.releasever,
    signal: app.signal,
    ...(app.idleTimeoutMs ? { idleTimeoutMs: app.idleTimeoutMs } : {}),
    transferLimits: app.transferLimits,
  };
  let warnings: readonly QueryWarning[] = [];
  const done = await withLock(app.lockFile, async () => {
    const outcomes: TemplateOutcome[] = [];
    const files = specs.filter((s) => s.endsWith('.rpm'));
    const named = specs.filter((s) => !s.endsWith('.rpm'));
    for (const file of files) {
      const keyrings = values(args, 'keyring');
      const keys = nogpgcheck
        ? []
        : await loadKeyring(keyrings.length > 0 ? keyrings : [defaultKeyring(app.releasever)]);
      // The worker checks the package with the same keys the orchestrator verifies it with.
      const armored = keys.map((key) => key.armor());
      const result = await installTemplate(
        ictx,
        {
          kind: 'file',
          path: file,
          repo: {
            id: 'commandline',
            baseurls: [],
            gpgcheck: !nogpgcheck,
            repoGpgcheck: false,
            keys: armored,
          },
        },
        { ...common, keys },
      );
      await record(state, result, mode);
      outcomes.push(outcome(result, mode, '@commandline'));
    }
    if (named.length === 0) return outcomes;
    const repos = await loadRepos(app, args);
    for (const warning of repos.warnings) app.log.warn(warning);
    // Likely to install something? Then start the first fetch worker's disposable now, while the
    // query runs: it waits for its request. (A plain spec naming an existing VM is an
    // idempotent no-op for install, so no disposable is started for it.)
    const existingVms = new Set((await app.admin.listVms()).map((v) => v.name));
    let spare: Promise<WorkerSession> | undefined =
      mode !== 'install' || named.some((spec) => !existingVms.has(spec))
        ? startWorker({
            env: app.env,
            admin: app.admin,
            placement: app.placement,
            log: app.log,
            signal: app.signal,
          })
        : undefined;
    spare?.catch(() => {});
    const takeSpare = (): Promise<WorkerSession> | undefined => {
      const taken = spare;
      spare = undefined;
      return taken;
    };
    try {
      const query = await queryRepos(app, repos);
      warnings = query.warnings;
      reportQueryWarnings(ctx.stderr, app.json, warnings);
      const listing = candidates(query.packages);
      // Plan every template first (one confirmation for all), then install them concurrently,
      // each through its own worker.
      const planned: { name: string; chosen: Candidate }[] = [];
      const slots: (TemplateOutcome | undefined)[] = [];
      const seen = new Set<string>();
      for (const spec of named) {
        const found = matching(spec, listing);
        if (found.length === 0)
          throw new OrchestratorError('template.not-found', `Template '${displayLine(spec)}' not found.`);
        for (const name of [...new Set(found.map((c) => c.templateName))]) {
          if (seen.has(name)) continue;
          seen.add(name);
          let installed;
          if (existingVms.has(name)) {
            installed = await installedTemplate(app.admin, name);
            // Only the template that package made is "already installed": any other VM of that
            // name (dom0, sys-net, a template made by hand or renamed) is not this template.
            if (!installed.managed && mode === 'install') {
              throw new OrchestratorError(
                'template.name-taken',
                `Template '${name}' cannot be installed: a VM of that name exists and is not that template`,
              );
            }
            if (mode === 'install') {
              slots.push({
                template: name,
                status: 'already-installed',
                message: `Template '${name}' already installed, skipping... (You may want to use the {reinstall,upgrade,downgrade} operations.)`,
              });
              continue;
            }
            if (!installed.managed) {
              throw new OrchestratorError(
                'template.not-managed',
                `Template '${name}' is not managed by qvm-template or tmpl`,
              );
            }
          } else if (mode !== 'install') {
            throw new OrchestratorError('template.not-found', `Template '${name}' not installed.`);
          }
          const chosen = select(
            found.filter((c) => c.templateName === name),
            mode,
            installed,
          );
          if (!chosen) {
            const which = mode === 'upgrade' ? 'higher' : mode === 'downgrade' ? 'lower' : 'the installed';
            slots.push({
              template: name,
              status: 'skipped',
              message: `No ${which} version of '${name}' available, skipping...`,
            });
            continue;
          }
          planned.push({ name, chosen });
          slots.push(undefined);
        }
      }
      if (mode !== 'install' && planned.length > 0) {
        await confirm(
          ctx,
          app,
          'This will override changes made in the following VMs:',
          planned.map((p) => p.name),
        );
      }
      const queue = new PQueue({ concurrency: INSTALL_CONCURRENCY });
      let recording = Promise.resolve();
      const results = await Promise.all(
        planned.map(({ chosen }) =>
          queue.add(async () => {
            const repo = repos.worker.find((r) => r.id === chosen.repoid)!;
            const prestarted = takeSpare();
            const result = await installTemplate(
              ictx,
              {
                kind: 'repo',
                repo,
                repos: repos.worker,
                package: {
                  repoid: chosen.repoid,
                  name: chosen.name,
                  epoch: chosen.epoch,
                  version: chosen.version,
                  release: chosen.release,
                },
              },
              {
                ...common,
                keys: repos.keys.get(chosen.repoid) ?? [],
                nogpgcheck: nogpgcheck || !repo.gpgcheck,
              },
              prestarted ? await prestarted : undefined,
            );
            // The rollback state is one file: record one install at a time.
            recording = recording.then(() => record(state, result, mode));
            await recording;
            return outcome(result, mode, chosen.repoid);
          }),
        ),
      );
      let next = 0;
      for (const slot of slots) outcomes.push(slot ?? results[next++]!);
      return outcomes;
    } finally {
      const unused = takeSpare();
      if (unused)
        await unused.then(
          (session) => session.close(),
          () => {},
        );
    }
  });
  return { outcomes: done, warnings };
}

async function record(state: string, result: InstallResult, mode: InstallMode): Promise<void> {
  const info = result.head.info;
  await recordInstalled(
    state,
    result.template,
    { epoch: info.epoch ?? 0, version: info.version, release: info.release },
    mode,
  );
}

function outcome(result: InstallResult, mode: InstallMode, repo: string): TemplateOutcome {
  const info = result.head.info;
  return {
    template: result.template,
    status: DONE[mode],
    package: info.name,
    evr: formatEvr({ epoch: info.epoch ?? 0, version: info.version, release: info.release }),
    repo,
    warnings: result.warnings,
  };
}

function installCommand(mode: InstallMode, summary: string): Command {
  return {
    name: mode,
    summary,
    options: mode === 'install' ? INSTALL_OPTIONS : INSTALL_OPTIONS.filter((o) => o.name !== 'pool'),
    usage: `tmpl ${mode} [OPTIONS] TEMPLATESPEC|PKG.rpm...`,
    async run(ctx) {
      const args = ctx.args!;
      const { outcomes, warnings } = await runInstall(ctx, args, mode);
      if (flag(args, 'json')) {
        ctx.stdout.write(JSON.stringify({ command: mode, ok: true, templates: outcomes, warnings }) + '\n');
      } else {
        for (const o of outcomes) {
          // package and evr come from a header that a hostile packager may have signed
          if (o.message) ctx.stderr.write(displayLine(o.message) + '\n');
          else
            ctx.stdout.write(
              displayLine(`Template '${o.template}' ${o.status}: ${o.package}-${o.evr} from ${o.repo}`) +
                '\n',
            );
        }
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
