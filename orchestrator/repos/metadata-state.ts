/**
 * The newest repository metadata tmpl accepted, per repository (metadata-freshness.ts decides
 * with it). Kept in TMPL_STATE_DIR next to the template rollback floor (rollback-state.ts), in
 * its own file, written atomically (a temporary file of this process, then rename).
 *
 * Entries are keyed by the repository id AND where the repository comes from (its metalink,
 * mirrorlist or baseurls after $releasever substitution): pointing a repository id at another
 * repository, or at another release, starts afresh instead of comparing unrelated revisions.
 *
 * `tmpl list` takes no lock, so two runs may write at once; each one re-reads the file just
 * before it writes and keeps, per entry, the newer of the two, so a concurrent run can at worst
 * delay a move of the state, never move it back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MAX_REPOMD_REVISION_DIGITS } from '../../protocol/limits.ts';
import { OrchestratorError } from '../errors.ts';
import { compareRepomd } from './metadata-freshness.ts';
import type { RepoDefinition } from './repo-config.ts';
import type { VerifiedRepomd } from './repomd-evidence.ts';

const STATE_FILE = 'repo-metadata.json';
/** Repositories remembered; far more than tmpl reads (MAX_REPOS) across releases. */
export const MAX_METADATA_STATE_ENTRIES = 4096;

const EntrySchema = z
  .object({
    repoid: z.string().max(100),
    source: z.string().max(80 * 1024),
    /** Absent for a repository without repo_gpgcheck (then only `unsignedWarned`). */
    revision: z
      .string()
      .max(MAX_REPOMD_REVISION_DIGITS)
      .regex(/^(0|[1-9][0-9]*)$/)
      .optional(),
    timestamp: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
    signedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** tmpl said once that it cannot check this repository's metadata. */
    unsignedWarned: z.boolean().optional(),
  })
  .strict();
type Entry = z.infer<typeof EntrySchema>;

const StateSchema = z
  .object({
    version: z.literal(1),
    repos: z.record(z.string().regex(/^[0-9a-f]{64}$/), EntrySchema),
  })
  .strict();
type State = z.infer<typeof StateSchema>;

/** Where a repository comes from, as the state keys it. */
export function repositorySource(repo: Pick<RepoDefinition, 'metalink' | 'mirrorlist' | 'baseurls'>): string {
  if (repo.metalink !== undefined) return `metalink ${repo.metalink}`;
  if (repo.mirrorlist !== undefined) return `mirrorlist ${repo.mirrorlist} ${repo.baseurls.join(' ')}`;
  return `baseurl ${repo.baseurls.join(' ')}`;
}

function keyOf(repoid: string, source: string): string {
  return createHash('sha256').update(`${repoid}\n${source}`).digest('hex');
}

function stateFile(dir: string): string {
  return path.join(dir, STATE_FILE);
}

async function load(dir: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(stateFile(dir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, repos: {} };
    throw new OrchestratorError('metadata.state', `cannot read ${stateFile(dir)}`, { cause: error });
  }
  let parsed: ReturnType<typeof StateSchema.safeParse>;
  try {
    parsed = StateSchema.safeParse(JSON.parse(text));
  } catch (cause) {
    throw new OrchestratorError('metadata.state', `${stateFile(dir)} is not JSON`, { cause });
  }
  if (!parsed.success || Object.keys(parsed.data.repos).length > MAX_METADATA_STATE_ENTRIES)
    throw new OrchestratorError('metadata.state', `${stateFile(dir)} is corrupt`);
  return parsed.data;
}

function versionOf(entry: Entry | undefined): VerifiedRepomd | undefined {
  if (entry?.revision === undefined || entry.signedAt === undefined) return undefined;
  return {
    revision: BigInt(entry.revision),
    timestamp: entry.timestamp ?? undefined,
    signedAt: entry.signedAt,
  };
}

/** What tmpl knows about one repository. */
export interface RepoMetadataState {
  /** The newest signed metadata accepted; undefined when none yet. */
  readonly accepted: VerifiedRepomd | undefined;
  readonly unsignedWarned: boolean;
}

/** The state of each repository (by id) of `repos`. */
export async function readRepoMetadataState(
  dir: string,
  repos: readonly Pick<RepoDefinition, 'id' | 'metalink' | 'mirrorlist' | 'baseurls'>[],
): Promise<Map<string, RepoMetadataState>> {
  const state = await load(dir);
  const result = new Map<string, RepoMetadataState>();
  for (const repo of repos) {
    const entry = state.repos[keyOf(repo.id, repositorySource(repo))];
    result.set(repo.id, { accepted: versionOf(entry), unsignedWarned: entry?.unsignedWarned === true });
  }
  return result;
}

export interface RepoMetadataUpdate {
  readonly repoid: string;
  readonly source: string;
  /** The newest accepted signed metadata, or undefined to record only `unsignedWarned`. */
  readonly accepted?: VerifiedRepomd;
  readonly unsignedWarned?: boolean;
}

/** Writes updates, keeping per entry the newer of what is on disk now and the update. */
export async function writeRepoMetadataState(
  dir: string,
  updates: readonly RepoMetadataUpdate[],
): Promise<void> {
  if (updates.length === 0) return;
  const state = await load(dir);
  for (const update of updates) {
    const key = keyOf(update.repoid, update.source);
    const current = state.repos[key];
    const onDisk = versionOf(current);
    let accepted = update.accepted;
    if (accepted !== undefined && onDisk !== undefined) {
      const order = compareRepomd(accepted, onDisk);
      if (order < 0) accepted = onDisk;
      else if (order === 0 && onDisk.signedAt > accepted.signedAt) accepted = onDisk;
    }
    accepted ??= onDisk;
    const warned = update.unsignedWarned === true || current?.unsignedWarned === true;
    state.repos[key] = {
      repoid: update.repoid,
      source: update.source,
      ...(accepted !== undefined
        ? {
            revision: accepted.revision.toString(),
            timestamp: accepted.timestamp ?? null,
            signedAt: accepted.signedAt,
          }
        : {}),
      ...(warned ? { unsignedWarned: true } : {}),
    };
  }
  if (Object.keys(state.repos).length > MAX_METADATA_STATE_ENTRIES)
    throw new OrchestratorError(
      'metadata.state',
      `more than ${MAX_METADATA_STATE_ENTRIES} repositories in the state`,
    );
  await mkdir(dir, { recursive: true });
  const file = stateFile(dir);
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
    await rename(temporary, file);
  } catch (cause) {
    await rm(temporary, { force: true });
    throw new OrchestratorError('metadata.state', `cannot write ${file}`, { cause });
  }
}
