/**
 * Operation query: the template packages of every requested repository, as one QUERY_RESULT.
 * Repository text (licence, summary, description, url) is untrusted: refused characters become
 * U+FFFD and lengths are cut to the schema's bounds, so a licence with spaces or '|' or a
 * description with escapes cannot break the orchestrator's listing.
 */
import {
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENSE_LENGTH,
  MAX_REPOMD_EVIDENCE_BYTES,
  MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH,
  MAX_SUMMARY_LENGTH,
  MAX_URL_LENGTH,
} from '../protocol/limits.ts';
import {
  sanitizeText,
  type PackageListing,
  type RepomdEvidence,
  type WorkerRequest,
} from '../protocol/messages.ts';
import { WorkerError } from './errors.ts';
import type { FrameWriter } from './ops-output.ts';
import type { PrimaryPackage } from './primary.ts';
import { loadRepository, type LoadedRepository, type RepoContext } from './repo-client.ts';

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
    description: sanitizeText(pkg.description, MAX_DESCRIPTION_LENGTH, { multiline: true }),
  };
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
  const repomd: RepomdEvidence[] = [];
  for (const [i, repo] of request.repos.entries()) {
    const loaded = await loadRepository(repo, ctx);
    packages.push(...loaded.packages.map(listingOf));
    repomd.push(evidenceOf(loaded));
    await out.progress({ stage: 'metadata', done: i + 1, total: request.repos.length }, true);
  }
  await out.json('QUERY_RESULT', { packages, repomd });
  await out.end();
}
