/**
 * What every command needs, built once from the global options and the environment: where the
 * Admin API is, the logger, where the worker runs, the release, the repositories and their keys.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import type { PublicKey } from 'openpgp';
import { RELEASEVER_PATTERN, type RepoConfig } from '../../protocol/messages.ts';
import { AdminClient } from '../qubes/admin-client.ts';
import { createTransport } from '../qubes/admin-transport.ts';
import { flag, value, values, type ParsedArgs } from './arguments.ts';
import { OrchestratorError } from '../errors.ts';
import { loadKeyring } from '../verify/keyring.ts';
import { defaultLockFile } from '../transaction/lock.ts';
import { resolveQubesEnvironment, type QubesEnvironment } from '../qubes/environment.ts';
import { DEFAULT_REPO_FILES_GLOB, loadRepoConfig, type RepoDefinition } from '../repos/repo-config.ts';
import { applyRepoOperations, enabledRepos } from '../repos/repo-selection.ts';
import { stateDir } from '../transaction/rollback-state.ts';
import type { TransferLimits } from '../verify/transfer-watchdog.ts';
import type { WorkerPlacement } from '../worker/session.ts';

export interface App {
  readonly env: QubesEnvironment;
  readonly admin: AdminClient;
  readonly log: Logger;
  readonly placement: WorkerPlacement;
  readonly releasever: string;
  readonly lockFile: string;
  readonly yes: boolean;
  readonly json: boolean;
  readonly idleTimeoutMs: number | undefined;
  /** TMPL_STATE_DIR: the rollback floor and the newest accepted repository metadata. */
  readonly stateDir: string;
  /** The worker transfer's other time limits set in the environment (transfer-watchdog.ts). */
  readonly transferLimits: Partial<TransferLimits>;
  /** Aborted when the run is interrupted (interrupt.ts): workers started for it are closed. */
  readonly signal?: AbortSignal;
}

/** Environment variables that set the worker transfer's limits, besides TMPL_WORKER_IDLE_TIMEOUT_MS. */
const TRANSFER_LIMIT_VARIABLES: Readonly<Record<string, Exclude<keyof TransferLimits, 'idleTimeoutMs'>>> = {
  TMPL_WORKER_PROGRESS_WINDOW_MS: 'minProgressWindowMs',
  TMPL_WORKER_PROGRESS_MIN_BYTES: 'minProgressBytes',
  TMPL_WORKER_DEADLINE_BASE_MS: 'deadlineBaseMs',
  TMPL_WORKER_MIN_RATE: 'minRateBytesPerSecond',
};

/** A limit from the environment: a positive number, else undefined (the default applies). */
function positiveNumber(text: string | undefined): number | undefined {
  const number = text ? Number(text) : undefined;
  return number !== undefined && Number.isFinite(number) && number > 0 ? number : undefined;
}

/** The limits the environment sets. */
function transferLimitsFrom(env: NodeJS.ProcessEnv): Partial<TransferLimits> {
  const limits: Partial<Record<keyof TransferLimits, number>> = {};
  for (const [variable, key] of Object.entries(TRANSFER_LIMIT_VARIABLES)) {
    const number = positiveNumber(env[variable]);
    if (number !== undefined) limits[key] = number;
  }
  return limits;
}

export function defaultKeyring(releasever: string): string {
  return `/etc/qubes/repo-templates/keys/RPM-GPG-KEY-qubes-${releasever}-primary`;
}

/** --releasever, else /usr/share/qubes/marker-vm, else os-release of a Qubes dom0, else TMPL_RELEASEVER. */
export function detectReleasever(args: ParsedArgs, env: NodeJS.ProcessEnv): string {
  const fromArgs = value(args, 'releasever');
  let release = fromArgs;
  if (release === undefined && existsSync('/usr/share/qubes/marker-vm')) {
    release = readFileSync('/usr/share/qubes/marker-vm', 'utf8').split('\n')[0]?.trim();
  }
  if (release === undefined && existsSync('/etc/os-release')) {
    const osRelease = readFileSync('/etc/os-release', 'utf8');
    const id = /^ID=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, '') ?? '';
    const version = /^VERSION_ID=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, '');
    if (id.includes('qubes') && version) release = version;
  }
  release ??= env.TMPL_RELEASEVER;
  if (release === undefined || release === '') {
    throw new OrchestratorError('usage', 'cannot tell the Qubes release of this system; give --releasever');
  }
  if (!RELEASEVER_PATTERN.test(release))
    throw new OrchestratorError('usage', `invalid release version '${release}'`);
  return release;
}

export function createApp(args: ParsedArgs, env: NodeJS.ProcessEnv, signal?: AbortSignal): App {
  const qubesEnv = resolveQubesEnvironment(env);
  const verbose = values(args, 'verbose').length - values(args, 'quiet').length;
  const level =
    env.TMPL_LOG_LEVEL ?? (verbose >= 2 ? 'debug' : verbose === 1 ? 'info' : verbose < 0 ? 'error' : 'warn');
  const log = pino({ level, base: undefined }, pino.destination(2));
  const updatevm = args.options.get('updatevm');
  const dispvm = value(args, 'dispvm');
  let placement: WorkerPlacement;
  if (flag(args, 'local-worker')) placement = { kind: 'local' };
  else if (updatevm !== undefined)
    placement = { kind: 'updatevm', ...(updatevm.at(-1) ? { vm: updatevm.at(-1)! } : {}) };
  else placement = { kind: 'dispvm', ...(dispvm ? { dispvm } : {}) };
  return {
    env: qubesEnv,
    admin: new AdminClient(createTransport(qubesEnv)),
    log,
    placement,
    releasever: detectReleasever(args, env),
    lockFile: defaultLockFile(env),
    yes: flag(args, 'yes'),
    json: flag(args, 'json'),
    idleTimeoutMs: positiveNumber(env.TMPL_WORKER_IDLE_TIMEOUT_MS),
    stateDir: stateDir(env),
    transferLimits: transferLimitsFrom(env),
    signal,
  };
}

export interface RepoSet {
  readonly definitions: readonly RepoDefinition[];
  /** The enabled repositories, as the worker is told about them. */
  readonly worker: readonly RepoConfig[];
  /** Our keyring for each enabled repository: what the orchestrator verifies headers with. */
  readonly keys: ReadonlyMap<string, readonly PublicKey[]>;
  readonly warnings: readonly string[];
}

function keyFiles(repo: RepoDefinition, fallback: readonly string[]): string[] {
  const files = repo.gpgkeys.filter((k) => k.startsWith('file://')).map((k) => fileURLToPath(k));
  return files.length > 0 ? files : [...fallback];
}

export async function loadRepos(app: App, args: ParsedArgs): Promise<RepoSet> {
  const patterns = values(args, 'repo-files');
  const definitions = await loadRepoConfig(
    { releasever: app.releasever },
    patterns.length > 0 ? patterns : [DEFAULT_REPO_FILES_GLOB],
  );
  const selection = applyRepoOperations(
    definitions,
    args.repoSelectors.map((s) => ({ kind: s.kind, value: s.pattern })),
  );
  const keyrings = values(args, 'keyring');
  const fallback = keyrings.length > 0 ? keyrings : [defaultKeyring(app.releasever)];
  const worker: RepoConfig[] = [];
  const keys = new Map<string, readonly PublicKey[]>();
  for (const repo of enabledRepos(selection)) {
    const files = keyFiles(repo, fallback);
    const armored: string[] = [];
    const readable: string[] = [];
    for (const file of files) {
      try {
        armored.push(await readFile(file, 'utf8'));
        readable.push(file);
      } catch (cause) {
        if (repo.gpgcheck)
          throw new OrchestratorError('config.keyring', `cannot read key ${file} of repository ${repo.id}`, {
            cause,
          });
      }
    }
    keys.set(repo.id, readable.length > 0 ? await loadKeyring(readable) : []);
    worker.push({
      id: repo.id,
      name: repo.name,
      baseurls: [...repo.baseurls],
      ...(repo.metalink ? { metalink: repo.metalink } : {}),
      ...(repo.mirrorlist ? { mirrorlist: repo.mirrorlist } : {}),
      gpgcheck: repo.gpgcheck,
      repoGpgcheck: repo.repoGpgcheck,
      keys: armored,
      ...(repo.sslcacert ? { sslcacert: await readFile(repo.sslcacert, 'utf8') } : {}),
      sslverify: repo.sslverify,
    });
  }
  return {
    definitions: selection.repos,
    worker,
    keys,
    warnings: selection.warnings.map((p) => `No repository match: ${p}`),
  };
}
