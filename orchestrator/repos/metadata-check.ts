/**
 * The trusted side of a query's metadata: before the request, each signed repository's newest
 * accepted revision goes to the worker (minRevision) so that an honest worker passes over a
 * stale mirror; after the reply, the repomd.xml evidence of every repository is verified here
 * (repomd-evidence.ts), judged against the state (metadata-freshness.ts), and only when every
 * repository passed is the state moved (metadata-state.ts). One refusal changes nothing.
 *
 * Repositories without repo_gpgcheck: their repomd.xml is not signed, so nothing in it can be
 * trusted against a subverted worker or a hostile mirror (a forged high revision would even
 * lock out every later real one). tmpl records nothing for them and says so once per
 * repository ('metadata.unsigned').
 *
 * Only the query carries evidence: it is where metadata decides anything (which templates and
 * versions exist, what install, upgrade and download choose). fetch, download and header (and so
 * refresh-metadata) read the metadata again only to find the one package the orchestrator named
 * by its exact NEVR; its header signature, identity and the template rollback floor are checked
 * on this side, so older metadata there can at worst make the package not found.
 */
import type { PublicKey } from 'openpgp';
import type { RepoConfig, RepomdEvidence } from '../../protocol/messages.ts';
import { OrchestratorError } from '../errors.ts';
import { decideFreshness, type RepoWarning } from './metadata-freshness.ts';
import {
  readRepoMetadataState,
  repositorySource,
  writeRepoMetadataState,
  type RepoMetadataState,
  type RepoMetadataUpdate,
} from './metadata-state.ts';
import type { RepoDefinition } from './repo-config.ts';
import { verifyRepomdEvidence } from './repomd-evidence.ts';

export interface RepoMetadataContext {
  readonly stateDir: string;
  /** The repositories' definitions, by id (for metadata_max_age and the repository's source). */
  readonly definitions: readonly RepoDefinition[];
  /** The orchestrator's keys of each repository. */
  readonly keys: ReadonlyMap<string, readonly PublicKey[]>;
  /** Unix seconds. */
  readonly now: number;
}

export interface PreparedMetadataCheck {
  /** The repositories to send, each signed one with its minRevision. */
  readonly repos: readonly RepoConfig[];
  readonly state: ReadonlyMap<string, RepoMetadataState>;
}

function definitionOf(ctx: RepoMetadataContext, repoid: string): RepoDefinition {
  const definition = ctx.definitions.find((d) => d.id === repoid);
  if (definition === undefined)
    throw new OrchestratorError('config.repo', `repository ${repoid} has no definition`);
  return definition;
}

/** Reads the state and tells the worker the minimum revision of each signed repository. */
export async function prepareMetadataCheck(
  ctx: RepoMetadataContext,
  repos: readonly RepoConfig[],
): Promise<PreparedMetadataCheck> {
  const state = await readRepoMetadataState(
    ctx.stateDir,
    repos.map((r) => definitionOf(ctx, r.id)),
  );
  return {
    state,
    repos: repos.map((repo) => {
      const accepted = state.get(repo.id)?.accepted;
      return repo.repoGpgcheck && accepted !== undefined
        ? { ...repo, minRevision: accepted.revision.toString() }
        : repo;
    }),
  };
}

/**
 * Checks the evidence (untrusted: from the worker) of every requested repository, then records
 * what was accepted. Returns the warnings; throws 'metadata.*' on the first refusal, before
 * anything is written.
 */
export async function checkRepoMetadata(
  ctx: RepoMetadataContext,
  prepared: PreparedMetadataCheck,
  evidence: readonly RepomdEvidence[],
): Promise<RepoWarning[]> {
  const byRepo = new Map<string, RepomdEvidence>();
  for (const e of evidence) {
    if (byRepo.has(e.repoid) || !prepared.repos.some((r) => r.id === e.repoid))
      throw new OrchestratorError(
        'metadata.evidence',
        `repomd.xml evidence for ${e.repoid} is duplicate or was not asked for`,
      );
    byRepo.set(e.repoid, e);
  }
  const warnings: RepoWarning[] = [];
  const updates: RepoMetadataUpdate[] = [];
  for (const repo of prepared.repos) {
    const definition = definitionOf(ctx, repo.id);
    const source = repositorySource(definition);
    const e = byRepo.get(repo.id);
    if (e === undefined)
      throw new OrchestratorError(
        'metadata.evidence',
        `the worker sent no repomd.xml for repository ${repo.id}`,
      );
    const verified = await verifyRepomdEvidence(e, repo.repoGpgcheck, ctx.keys.get(repo.id) ?? []);
    const known = prepared.state.get(repo.id);
    if (verified === undefined) {
      if (known?.unsignedWarned !== true) {
        warnings.push({
          code: 'metadata.unsigned',
          repoid: repo.id,
          message: `repository ${repo.id} has no repo_gpgcheck: tmpl cannot tell frozen or rolled-back metadata from current (said once)`,
        });
        updates.push({ repoid: repo.id, source, unsignedWarned: true });
      }
      continue;
    }
    const decision = decideFreshness(
      repo.id,
      known?.accepted,
      verified,
      { maxAge: definition.metadataMaxAge, action: definition.metadataMaxAgeAction },
      ctx.now,
    );
    warnings.push(...decision.warnings);
    if (decision.changed) updates.push({ repoid: repo.id, source, accepted: decision.record });
  }
  await writeRepoMetadataState(ctx.stateDir, updates);
  return warnings;
}
