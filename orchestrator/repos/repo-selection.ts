/**
 * --enablerepo / --disablerepo / --repoid as qvm-template forwards them to dnf and dnf applies
 * them (dnf/cli/option_parser.py and cli.py _configure_repos):
 *
 * - each option value is split at commas and whitespace;
 * - if any --repoid is given, every repository is disabled first and the --repoid values are
 *   enabled last; --repoid and --disablerepo together are a usage error (mutually exclusive);
 * - the operations then apply in command-line order; a value with '*', '?' or '[' is an
 *   fnmatch glob over repository ids, anything else an exact id;
 * - enabling something that matches no repository is an error (dnf's strict=True), disabling
 *   it only a warning.
 */
import { fnmatchcase, isGlobPattern } from '../../protocol/index.ts';
import { OrchestratorError } from '../errors.ts';
import type { RepoDefinition } from './repo-config.ts';

export type RepoOperationKind = 'enablerepo' | 'disablerepo' | 'repoid';

export interface RepoOperation {
  readonly kind: RepoOperationKind;
  readonly value: string;
}

export interface RepoSelection {
  /** Every repository, with `enabled` as the operations left it, in configuration order. */
  readonly repos: readonly RepoDefinition[];
  /** Patterns that matched nothing when disabling ("No repository match: X"). */
  readonly warnings: readonly string[];
}

function matching(repos: readonly RepoDefinition[], pattern: string): RepoDefinition[] {
  if (isGlobPattern(pattern)) return repos.filter((r) => fnmatchcase(r.id, pattern));
  return repos.filter((r) => r.id === pattern);
}

export function applyRepoOperations(
  repos: readonly RepoDefinition[],
  operations: readonly RepoOperation[],
): RepoSelection {
  const split = (value: string): string[] => value.split(/\s*[,\s]\s*/).filter((v) => v !== '');
  const steps: [string, 'enable' | 'disable'][] = [];
  const repoids: string[] = [];
  for (const op of operations) {
    if (op.kind === 'repoid') repoids.push(...split(op.value));
    else for (const v of split(op.value)) steps.push([v, op.kind === 'enablerepo' ? 'enable' : 'disable']);
  }
  if (repoids.length > 0) {
    if (operations.some((op) => op.kind === 'disablerepo')) {
      throw new OrchestratorError('usage', '--repoid cannot be combined with --disablerepo');
    }
    steps.unshift(['*', 'disable']);
    for (const id of repoids) steps.push([id, 'enable']);
  }
  const enabled = new Map(repos.map((r) => [r.id, r.enabled]));
  const warnings: string[] = [];
  for (const [pattern, action] of steps) {
    const hits = matching(repos, pattern);
    if (hits.length === 0) {
      if (action === 'enable') throw new OrchestratorError('config.repo', `Unknown repo: '${pattern}'`);
      if (!warnings.includes(pattern)) warnings.push(pattern);
    }
    for (const r of hits) enabled.set(r.id, action === 'enable');
  }
  return { repos: repos.map((r) => ({ ...r, enabled: enabled.get(r.id) ?? r.enabled })), warnings };
}

/** The enabled repositories after the operations. */
export function enabledRepos(selection: RepoSelection): RepoDefinition[] {
  return selection.repos.filter((r) => r.enabled);
}

/** Which repositories `tmpl repolist` shows: --all, --enabled (the default), --disabled. */
export interface RepoListFilter {
  readonly all: boolean;
  readonly enabled: boolean;
  readonly disabled: boolean;
}

/** The definitions `repolist` lists, in configuration order; enabled ones when no filter is given. */
export function listedRepos(
  definitions: readonly RepoDefinition[],
  filter: RepoListFilter,
): RepoDefinition[] {
  const { all, disabled } = filter;
  const enabled = filter.enabled || (!all && !disabled);
  return definitions.filter((r) => all || (enabled && r.enabled) || (disabled && !r.enabled));
}
