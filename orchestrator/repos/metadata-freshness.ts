/**
 * Freeze and rollback of repository metadata: a mirror (or a worker) that serves an old but
 * validly signed repomd.xml hides every update published since. For each repository tmpl keeps
 * the newest repomd it accepted (metadata-state.ts) and decides here, without I/O, about the
 * one it is shown now:
 *
 * - older than the recorded one: refused ('metadata.rollback'). The order is the <revision>
 *   first; at equal revisions the newest data <timestamp>, because createrepo_c run with a fixed
 *   `--revision` republishes under the same revision and only the timestamps then move. A newer
 *   revision with older data timestamps is accepted: the revision is what the publisher declares,
 *   and a data file rebuilt from an older source may carry an older time.
 * - the same: accepted; the state keeps the newest signature time seen.
 * - newer: accepted, and the state moves.
 * - a signature older than metadata_max_age: a warning ('metadata.max-age'), or a refusal with
 *   that code when the repository says metadata_max_age_action=refuse. A mirror can replay old
 *   metadata to a machine that never saw newer; only the signature's age can tell.
 *
 * The signature time only feeds the age check, never the order: re-signing the same repomd later
 * is legitimate, and an older signature over newer bytes cannot be made without the key.
 */
import { OrchestratorError } from '../errors.ts';
import type { MetadataMaxAgeAction } from './repo-config.ts';
import type { VerifiedRepomd } from './repomd-evidence.ts';

/** A warning about a repository, as `--json` lists them under `warnings`. */
export interface RepoWarning {
  readonly code: 'metadata.max-age' | 'metadata.unsigned';
  readonly repoid: string;
  readonly message: string;
}

export interface FreshnessPolicy {
  /** Seconds; null: no age check (metadata_max_age=never). */
  readonly maxAge: number | null;
  readonly action: MetadataMaxAgeAction;
}

export interface FreshnessDecision {
  /** What the state holds for the repository after this metadata was accepted. */
  readonly record: VerifiedRepomd;
  /** True when the record differs from the previous one (the state must be written). */
  readonly changed: boolean;
  readonly warnings: readonly RepoWarning[];
}

/** Negative, zero or positive as `a` is older than, as new as, or newer than `b`. */
export function compareRepomd(a: VerifiedRepomd, b: VerifiedRepomd): number {
  if (a.revision !== b.revision) return a.revision < b.revision ? -1 : 1;
  return (a.timestamp ?? -1) - (b.timestamp ?? -1);
}

function label(r: VerifiedRepomd): string {
  return `revision ${r.revision}${r.timestamp !== undefined ? `, data of ${new Date(r.timestamp * 1000).toISOString()}` : ''}`;
}

function days(seconds: number): string {
  return `${Math.floor(seconds / 86400)} days`;
}

/**
 * Decides about `observed` (verified) for `repoid`, given what was accepted before and the
 * repository's policy; `now` in Unix seconds. Throws OrchestratorError 'metadata.rollback' or
 * 'metadata.max-age' (strict).
 */
export function decideFreshness(
  repoid: string,
  previous: VerifiedRepomd | undefined,
  observed: VerifiedRepomd,
  policy: FreshnessPolicy,
  now: number,
): FreshnessDecision {
  if (previous !== undefined && compareRepomd(observed, previous) < 0) {
    throw new OrchestratorError(
      'metadata.rollback',
      `repository ${repoid}: the metadata served (${label(observed)}) is older than the metadata tmpl accepted before (${label(previous)}); a mirror may be hiding updates`,
    );
  }
  const warnings: RepoWarning[] = [];
  const age = now - observed.signedAt;
  if (policy.maxAge !== null && age > policy.maxAge) {
    const message = `repository ${repoid}: the metadata signature is ${days(age)} old, more than metadata_max_age (${days(policy.maxAge)}); a mirror may be serving frozen metadata`;
    if (policy.action === 'refuse') throw new OrchestratorError('metadata.max-age', message);
    warnings.push({ code: 'metadata.max-age', repoid, message });
  }
  if (previous === undefined || compareRepomd(observed, previous) > 0) {
    return { record: observed, changed: true, warnings };
  }
  // The same metadata: keep the newest signature time seen (a re-signed repomd).
  if (observed.signedAt > previous.signedAt) {
    return { record: { ...previous, signedAt: observed.signedAt }, changed: true, warnings };
  }
  return { record: previous, changed: false, warnings };
}
