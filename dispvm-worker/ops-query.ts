/**
 * Operation query: the template packages of every requested repository, as one QUERY_RESULT.
 * Repository text (licence, summary, description, url) is untrusted: refused characters become
 * U+FFFD and lengths are cut to the schema's bounds, so a licence with spaces or '|' or a
 * description with escapes cannot break the orchestrator's listing. Entries the primary parser
 * skipped travel as warnings, at most MAX_QUERY_WARNINGS of them.
 */
import {
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENSE_LENGTH,
  MAX_QUERY_WARNINGS,
  MAX_REPOMD_EVIDENCE_BYTES,
  MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH,
  MAX_SUMMARY_LENGTH,
  MAX_URL_LENGTH,
  MAX_WARNING_MESSAGE_LENGTH,
} from '../protocol/limits.ts';
import {
  sanitizeText,
  type PackageListing,
  type QueryWarning,
  type WorkerRequest,
  type RepomdEvidence,
} from '../protocol/messages.ts';
import { WorkerError } from './errors.ts';
import type { FrameWriter } from './ops-output.ts';
import type { PrimaryErrorCode, PrimaryPackage } from './primary.ts';
import { loadRepository, type LoadedRepository, type RepoContext } from './repo-client.ts';

/** Ends a description that was cut (in primary.xml or to MAX_DESCRIPTION_LENGTH), visibly. */
export const DESCRIPTION_TRUNCATED_MARKER = '\n[description truncated]';

/** Code of the last warning when more entries were skipped than a query carries. */
export const MORE_SKIPPED_CODE: PrimaryErrorCode = 'primary.more-skipped';

function description(pkg: PrimaryPackage): string {
  const text = sanitizeText(pkg.description, MAX_DESCRIPTION_LENGTH + 1, { multiline: true });
  if (pkg.descriptionTruncated !== true && text.length <= MAX_DESCRIPTION_LENGTH) return text;
  const kept = sanitizeText(text, MAX_DESCRIPTION_LENGTH - DESCRIPTION_TRUNCATED_MARKER.length, {
    multiline: true,
  });
  return kept + DESCRIPTION_TRUNCATED_MARKER;
}

export function listingOf(pkg: PrimaryPackage): PackageListing {
  return {
    name: pkg.name,
    epoch: pkg.epoch,
    version: pkg.version,
    release: pkg.release,
    repoid: pkg.repoid,
    downloadsize: pkg.downloadsize,
    buildtime: pkg.buildtime,
    license: sanitizeText(pkg.license, MAX_LICENSE_LENGTH),
    url: sanitizeText(pkg.url, MAX_URL_LENGTH),
    summary: sanitizeText(pkg.summary, MAX_SUMMARY_LENGTH),
    description: description(pkg),
  };
}

/** The skipped entries of the loaded repositories as warnings, at most MAX_QUERY_WARNINGS. */
export function skipWarnings(loaded: readonly LoadedRepository[]): QueryWarning[] {
  const warnings: QueryWarning[] = [];
  let total = 0;
  for (const repo of loaded) {
    total += repo.skippedCount;
    for (const skip of repo.skipped) {
      warnings.push({
        code: skip.code,
        repoid: repo.config.id,
        message: sanitizeText(
          `package entry ${skip.name ?? '(no valid name)'} at byte ${skip.offset} skipped: ${skip.message}`,
          MAX_WARNING_MESSAGE_LENGTH,
        ),
        ...(skip.name !== undefined ? { package: skip.name } : {}),
      });
    }
  }
  if (total <= MAX_QUERY_WARNINGS) return warnings;
  const kept = warnings.slice(0, MAX_QUERY_WARNINGS - 1);
  const last = loaded.findLast((r) => r.skippedCount > 0)!;
  kept.push({
    code: MORE_SKIPPED_CODE,
    repoid: last.config.id,
    message: `${total - kept.length} more package entries skipped`,
  });
  return kept;
}

/**
 * The repomd.xml the listing came from, for the orchestrator to verify itself (its signature,
 * its revision against the newest one accepted before). Larger than the protocol carries: refused.
 */
export function evidenceOf(loaded: LoadedRepository): RepomdEvidence {
  const { bytes, signature } = loaded.source;
  if (bytes.length > MAX_REPOMD_EVIDENCE_BYTES) {
    throw new WorkerError(
      'worker.repo-metadata',
      `repository ${loaded.config.id}: repomd.xml is ${bytes.length} bytes, more than ${MAX_REPOMD_EVIDENCE_BYTES}`,
    );
  }
  if (signature !== null && signature.length > MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH) {
    throw new WorkerError(
      'worker.repo-metadata',
      `repository ${loaded.config.id}: repomd.xml.asc is longer than ${MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH}`,
    );
  }
  return { repoid: loaded.config.id, repomd: Buffer.from(bytes).toString('base64'), signature };
}

export async function runQuery(request: WorkerRequest, ctx: RepoContext, out: FrameWriter): Promise<void> {
  const packages: PackageListing[] = [];
  const loaded: LoadedRepository[] = [];
  const repomd: RepomdEvidence[] = [];
  for (const [i, repo] of request.repos.entries()) {
    const repository = await loadRepository(repo, ctx);
    loaded.push(repository);
    packages.push(...repository.packages.map(listingOf));
    repomd.push(evidenceOf(repository));
    await out.progress({ stage: 'metadata', done: i + 1, total: request.repos.length }, true);
  }
  await out.json('QUERY_RESULT', { packages, warnings: skipWarnings(loaded), repomd });
  await out.end();
}
