/**
 * The work of `tmpl install|reinstall|upgrade|downgrade`, under the operation lock: local .rpm
 * files one by one, then the named templates: the listing, the plan (install-plan.ts), the
 * confirmation, and the installs, INSTALL_CONCURRENCY at a time, the rollback floor recorded
 * one install at a time.
 *
 * Disposables: the worker that lists the repositories fetches the first package too, in the
 * same session (protocol/request-sequence.ts); every further template gets its own disposable;
 * an install of templates already installed starts none (install-plan.ts,
 * installedWithoutListing).
 */
import PQueue from 'p-queue';
import { formatEvr } from '../../protocol/evr.ts';
import type { QueryWarning } from '../../protocol/messages.ts';
import type { App, RepoSet } from '../cli/context.ts';
import { installedTemplate } from '../qubes/installed-templates.ts';
import { loadKeyring } from '../verify/keyring.ts';
import { queryRepos } from '../worker/query.ts';
import type { WorkerSession } from '../worker/session.ts';
import {
  installTemplate,
  type InstallContext,
  type InstallMode,
  type InstallOptions,
  type InstallResult,
} from './install-template.ts';
import {
  installedWithoutListing,
  planInstall,
  type ExistingVm,
  type PlanStep,
  type TemplateOutcome,
} from './install-plan.ts';
import { withLock } from './lock.ts';
import { checkRollback, recordInstalled, rollbackFloors } from './rollback-state.ts';

/** Templates installed at once, each in its own disposable. */
export const INSTALL_CONCURRENCY = 2;

export interface InstallRequest {
  readonly mode: InstallMode;
  /** Template specs and .rpm files, in the order given. */
  readonly specs: readonly string[];
  readonly nogpgcheck: boolean;
  /** Keyring files for local .rpm files. */
  readonly keyrings: readonly string[];
  readonly allowPv: boolean;
  readonly skipStart: boolean;
  readonly pool?: string;
  /** TMPL_STATE_DIR: the rollback floors. */
  readonly stateDir: string;
  readonly onProgress?: InstallContext['onProgress'];
}

export interface InstallHooks {
  /** The enabled repositories; read only when a spec names a template rather than a file. */
  repos(): Promise<RepoSet>;
  /** Before existing templates are replaced (reinstall, upgrade, downgrade); throws to cancel. */
  confirm(templates: readonly string[]): Promise<void>;
  /** The listing's warnings, as soon as they are known. */
  warn(warnings: readonly QueryWarning[]): void;
}

export interface InstallReport {
  readonly outcomes: TemplateOutcome[];
  readonly warnings: readonly QueryWarning[];
}

const DONE: Record<InstallMode, TemplateOutcome['status']> = {
  install: 'installed',
  reinstall: 'reinstalled',
  upgrade: 'upgraded',
  downgrade: 'downgraded',
};

interface Run {
  readonly app: App;
  readonly request: InstallRequest;
  readonly ictx: InstallContext;
  readonly options: Omit<InstallOptions, 'keys'>;
  /** The rollback state is one file: one install's record at a time. */
  recording: Promise<void>;
}

export async function runInstall(
  app: App,
  request: InstallRequest,
  hooks: InstallHooks,
): Promise<InstallReport> {
  const { mode, stateDir } = request;
  const run: Run = {
    app,
    request,
    ictx: {
      admin: app.admin,
      env: app.env,
      log: app.log,
      placement: app.placement,
      releasever: app.releasever,
      signal: app.signal,
      ...(app.idleTimeoutMs ? { idleTimeoutMs: app.idleTimeoutMs } : {}),
      transferLimits: app.transferLimits,
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
    },
    options: {
      mode,
      allowPv: request.allowPv,
      skipStart: request.skipStart,
      nogpgcheck: request.nogpgcheck,
      ...(request.pool ? { pool: request.pool } : {}),
      checkVersion: async ({ templateName, info }) =>
        checkRollback(
          stateDir,
          templateName,
          { epoch: info.epoch ?? 0, version: info.version, release: info.release },
          mode,
        ),
    },
    recording: Promise.resolve(),
  };
  return withLock(app.lockFile, async () => {
    const outcomes: TemplateOutcome[] = [];
    for (const file of request.specs.filter((s) => s.endsWith('.rpm')))
      outcomes.push(await installFile(run, file));
    const named = request.specs.filter((s) => !s.endsWith('.rpm'));
    if (named.length === 0) return { outcomes, warnings: [] };
    const report = await installNamed(run, named, hooks);
    return { outcomes: [...outcomes, ...report.outcomes], warnings: report.warnings };
  });
}

async function installFile(run: Run, file: string): Promise<TemplateOutcome> {
  const { request } = run;
  const keys = request.nogpgcheck ? [] : await loadKeyring(request.keyrings);
  // The worker checks the package with the same keys the orchestrator verifies it with.
  const repo = {
    id: 'commandline',
    baseurls: [],
    gpgcheck: !request.nogpgcheck,
    repoGpgcheck: false,
    keys: keys.map((key) => key.armor()),
  };
  const result = await installTemplate(
    run.ictx,
    { kind: 'file', path: file, repo },
    { ...run.options, keys },
  );
  return recorded(run, result, '@commandline');
}

/** The VMs among `names` that exist, with what their features say. */
async function existingVms(app: App, names: Iterable<string>): Promise<Map<string, ExistingVm>> {
  const vms = new Set((await app.admin.listVms()).map((v) => v.name));
  const found = new Map<string, ExistingVm>();
  for (const name of new Set(names))
    if (vms.has(name)) found.set(name, await installedTemplate(app.admin, name));
  return found;
}

async function installNamed(run: Run, named: readonly string[], hooks: InstallHooks): Promise<InstallReport> {
  const { app, request } = run;
  const repos = await hooks.repos();
  for (const warning of repos.warnings) app.log.warn(warning);
  const settled = installedWithoutListing(named, await existingVms(app, named), request.mode);
  if (settled) return { outcomes: settled, warnings: [] };
  const query = await queryRepos(app, repos, { keep: true });
  let kept: WorkerSession | undefined = query.session;
  try {
    hooks.warn(query.warnings);
    const names = query.packages.map((p) => p.name.replace(/^qubes-template-/, ''));
    const plan = planInstall(
      named,
      query.packages,
      await existingVms(app, names),
      request.mode,
      await rollbackFloors(request.stateDir),
    );
    if (plan.overrides.length > 0) await hooks.confirm(plan.overrides);
    const queue = new PQueue({ concurrency: INSTALL_CONCURRENCY });
    const outcomes = await Promise.all(
      plan.steps.map(async (step) => {
        if (step.kind === 'done') return step.outcome;
        return queue.add(async () => {
          // The first package goes to the worker that listed the repositories.
          const session = kept;
          kept = undefined;
          return installStep(run, step, repos, query.repos, session);
        });
      }),
    );
    return { outcomes, warnings: query.warnings };
  } finally {
    await kept?.close();
  }
}

async function installStep(
  run: Run,
  step: Extract<PlanStep, { kind: 'fetch' }>,
  repos: RepoSet,
  sent: RepoSet['worker'],
  session: WorkerSession | undefined,
): Promise<TemplateOutcome> {
  const { candidate } = step;
  const repo = sent.find((r) => r.id === candidate.repoid)!;
  const { repoid, name, epoch, version, release } = candidate;
  const result = await installTemplate(
    run.ictx,
    { kind: 'repo', repo, repos: sent, package: { repoid, name, epoch, version, release } },
    {
      ...run.options,
      keys: repos.keys.get(repoid) ?? [],
      nogpgcheck: run.request.nogpgcheck || !repo.gpgcheck,
    },
    session,
  );
  return recorded(run, result, repoid);
}

/** Records the installed EVR as the template's rollback floor and makes its outcome. */
async function recorded(run: Run, result: InstallResult, repo: string): Promise<TemplateOutcome> {
  const info = result.head.info;
  const evr = { epoch: info.epoch ?? 0, version: info.version, release: info.release };
  const { mode, stateDir } = run.request;
  run.recording = run.recording.then(() => recordInstalled(stateDir, result.template, evr, mode));
  await run.recording;
  return {
    template: result.template,
    status: DONE[mode],
    package: info.name,
    evr: formatEvr(evr),
    repo,
    warnings: result.warnings,
  };
}
