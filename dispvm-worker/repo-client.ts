/**
 * Reads one repository's metadata as dnf does, but refusing what dnf lets slip: repomd.xml from
 * the metalink's mirrors (checked against the hashes the metalink announces), the mirrorlist or
 * the baseurls; its detached signature when repo_gpgcheck is on (missing or bad is an error, not
 * a silent skip); primary checked against repomd's checksums; the qubes-template-* packages.
 *
 * Over 300 lines: the mirror, signature and checksum steps of one repository read form one
 * sequence.
 */
import * as openpgp from 'openpgp';
import type { Logger } from 'pino';
import { ParseError } from '../protocol/errors.ts';
import { MAX_QUERY_WARNINGS } from '../protocol/limits.ts';
import type { RepoConfig } from '../protocol/messages.ts';
import { HttpError, WorkerError } from './errors.ts';
import { fetchBytes, type HttpFetchOptions } from './http-fetch.ts';
import { checkRepomdAgainstMetalink, MAX_METALINK_BYTES, parseMetalink } from './metalink.ts';
import {
  MAX_PRIMARY_COMPRESSED_BYTES,
  readPrimary,
  type PrimaryPackage,
  type PrimarySkip,
} from './primary.ts';
import {
  findRepomdData,
  MAX_REPOMD_BYTES,
  MAX_REPOMD_SIGNATURE_LENGTH,
  parseRepomd,
  verifyRepomdSignature,
  type Repomd,
} from './repomd.ts';

/** Largest mirrorlist accepted (one URL a line). */
export const MAX_MIRRORLIST_BYTES = 256 * 1024;
/** Mirrors taken from a mirrorlist or metalink. */
export const MAX_MIRRORS = 64;
/** Failures of a primary file that another mirror may not have. */
const MIRROR_PRIMARY_FAILURES: ReadonlySet<string> = new Set(['primary.size', 'primary.checksum']);

/** $basearch and $arch: template packages are noarch, the repositories are x86_64 ones. */
export const BASEARCH = 'x86_64';

export interface RepoContext {
  readonly releasever: string;
  readonly http: HttpFetchOptions;
  readonly logger: Logger;
  /**
   * Repositories this session loaded already (the query's, for the fetch that follows it in the
   * same disposable), by their whole configuration: an entry is reused only for the same
   * repository under the same settings (keys, minimum revision, mirrors).
   */
  readonly loaded?: Map<string, LoadedRepository>;
}

/** repomd.xml exactly as the mirror served it, and its armoured signature (repo_gpgcheck only). */
export interface RepomdSource {
  readonly bytes: Uint8Array;
  readonly signature: string | null;
}

export interface LoadedRepository {
  readonly config: RepoConfig;
  /** Base URLs to fetch data from, the one that served repomd.xml first. */
  readonly bases: readonly string[];
  readonly repomd: Repomd;
  readonly source: RepomdSource;
  readonly packages: readonly PrimaryPackage[];
  /** The first MAX_SKIPS_KEPT template entries skipped, in document order. */
  readonly skipped: readonly PrimarySkip[];
  /** How many template entries were skipped in all. */
  readonly skippedCount: number;
}

/** Skipped entries remembered per repository (a query carries at most MAX_QUERY_WARNINGS). */
export const MAX_SKIPS_KEPT = MAX_QUERY_WARNINGS;

/**
 * True when a repomd's revision is below the orchestrator's minimum (a stale mirror). A
 * revision that is not a decimal number is not compared here: the orchestrator refuses it.
 */
function olderThanMinimum(repomd: Repomd, minRevision: string | undefined): boolean {
  if (minRevision === undefined || repomd.revision === undefined) return false;
  if (!/^[0-9]{1,20}$/.test(repomd.revision)) return false;
  return BigInt(repomd.revision) < BigInt(minRevision);
}

/** dnf's variable substitution for the variables a template repository uses. */
export function substituteVariables(text: string, releasever: string): string {
  return text.replace(/\$\{?(releasever|basearch|arch)\}?/g, (_, name: string) =>
    name === 'releasever' ? releasever : BASEARCH,
  );
}

/** Resolves a metadata href against a base URL (the base taken as a directory). */
export function joinUrl(base: string, href: string): string {
  return new URL(href, base.endsWith('/') ? base : `${base}/`).href;
}

/** Reads the armoured public keys of a repository; a malformed key fails the request. */
export async function readRepoKeys(repo: RepoConfig): Promise<openpgp.PublicKey[]> {
  const keys: openpgp.PublicKey[] = [];
  for (const [i, armoredKeys] of repo.keys.entries()) {
    try {
      keys.push(...(await openpgp.readKeys({ armoredKeys })));
    } catch (cause) {
      throw new WorkerError('worker.request', `repos.${repo.id}.keys.${i}: not an OpenPGP public key`, {
        cause,
      });
    }
  }
  return keys;
}

function httpOptions(repo: RepoConfig, ctx: RepoContext): HttpFetchOptions {
  return {
    ...ctx.http,
    ...(repo.sslcacert !== undefined ? { ca: repo.sslcacert } : {}),
    ...(repo.sslverify !== undefined ? { verifyTls: repo.sslverify } : {}),
    logger: ctx.logger,
  };
}

/** A mirrorlist: one base URL a line, '#' comments (dnf's format). Only http(s) URLs are kept. */
export function parseMirrorlist(bytes: Uint8Array): string[] {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const urls: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!/^https?:\/\/[\x21-\x7e]{1,2040}$/.test(line)) continue;
    urls.push(line);
    if (urls.length >= MAX_MIRRORS) break;
  }
  return urls;
}

interface RepomdCandidate {
  readonly base: string;
  /** What a metalink says repomd.xml must hash to, if there is one. */
  readonly metalink?: ReturnType<typeof parseMetalink>;
}

async function candidateBases(repo: RepoConfig, ctx: RepoContext): Promise<RepomdCandidate[]> {
  const http = httpOptions(repo, ctx);
  const baseurls = repo.baseurls.map((u) => substituteVariables(u, ctx.releasever));
  if (repo.metalink !== undefined) {
    const url = substituteVariables(repo.metalink, ctx.releasever);
    const metalink = parseMetalink(await fetchBytes({ urls: [url], maxBytes: MAX_METALINK_BYTES }, http));
    return [
      ...metalink.mirrors.slice(0, MAX_MIRRORS).map((m) => ({ base: m.baseUrl, metalink })),
      // baseurls, when given too, must still match the metalink: it is the authority on repomd.
      ...baseurls.map((base) => ({ base, metalink })),
    ];
  }
  if (repo.mirrorlist !== undefined) {
    const url = substituteVariables(repo.mirrorlist, ctx.releasever);
    const listed = parseMirrorlist(await fetchBytes({ urls: [url], maxBytes: MAX_MIRRORLIST_BYTES }, http));
    return [...listed, ...baseurls].map((base) => ({ base }));
  }
  return baseurls.map((base) => ({ base }));
}

async function fetchSignature(base: string, http: HttpFetchOptions): Promise<string | null> {
  try {
    const bytes = await fetchBytes(
      { urls: [joinUrl(base, 'repodata/repomd.xml.asc')], maxBytes: MAX_REPOMD_SIGNATURE_LENGTH },
      http,
    );
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return null;
    throw error;
  }
}

/**
 * Fetches and checks repomd.xml (and its signature) from the first candidate mirror that serves
 * an acceptable one: a mirror that fails to answer, or whose repomd.xml does not match the
 * metalink (a stale mirror), is skipped. A missing or bad signature is final.
 */
async function loadRepomd(
  repo: RepoConfig,
  ctx: RepoContext,
  keys: readonly openpgp.PublicKey[],
): Promise<{ repomd: Repomd; source: RepomdSource; bases: string[] }> {
  const http = httpOptions(repo, ctx);
  const candidates = await candidateBases(repo, ctx);
  if (candidates.length === 0) {
    throw new WorkerError('worker.repo-metadata', `repository ${repo.id}: no mirror to fetch from`);
  }
  let lastError: unknown;
  // The first mirror whose repomd.xml is older than the orchestrator's minimum, kept in case
  // every mirror is as stale: the orchestrator then refuses it with its own error.
  let stale: { repomd: Repomd; source: RepomdSource; bases: string[] } | undefined;
  for (const [i, candidate] of candidates.entries()) {
    let bytes: Uint8Array;
    try {
      bytes = await fetchBytes(
        { urls: [joinUrl(candidate.base, 'repodata/repomd.xml')], maxBytes: MAX_REPOMD_BYTES },
        http,
      );
      if (candidate.metalink !== undefined) checkRepomdAgainstMetalink(bytes, candidate.metalink);
    } catch (error) {
      lastError = error;
      ctx.logger.warn({ repo: repo.id, base: candidate.base, err: error }, 'mirror skipped');
      continue;
    }
    let signature: string | null = null;
    if (repo.repoGpgcheck) {
      const asc = await fetchSignature(candidate.base, http);
      if (asc === null) {
        throw new WorkerError(
          'worker.repo-unsigned',
          `repository ${repo.id}: repo_gpgcheck is on but ${joinUrl(candidate.base, 'repodata/repomd.xml.asc')} does not exist`,
        );
      }
      await verifyRepomdSignature(bytes, asc, keys);
      signature = asc;
    }
    const repomd = parseRepomd(bytes);
    const others = candidates.filter((_, j) => j !== i).map((c) => c.base);
    const loaded = { repomd, source: { bytes, signature }, bases: [candidate.base, ...others] };
    if (olderThanMinimum(repomd, repo.minRevision)) {
      ctx.logger.warn(
        { repo: repo.id, base: candidate.base, revision: repomd.revision, minRevision: repo.minRevision },
        'mirror serves older metadata than accepted before, trying the next',
      );
      stale ??= loaded;
      continue;
    }
    return loaded;
  }
  if (stale !== undefined) return stale;
  if (lastError instanceof Error) throw lastError;
  throw new WorkerError('worker.repo-metadata', `repository ${repo.id}: no mirror served repomd.xml`);
}

/** Loads a repository's template packages, or takes them from what this session loaded. */
export async function loadRepository(repo: RepoConfig, ctx: RepoContext): Promise<LoadedRepository> {
  const key = `${ctx.releasever}\n${JSON.stringify(repo)}`;
  const known = ctx.loaded?.get(key);
  if (known !== undefined) {
    ctx.logger.info({ repo: repo.id }, 'repository loaded earlier in this session');
    return known;
  }
  const loaded = await fetchRepository(repo, ctx);
  ctx.loaded?.set(key, loaded);
  return loaded;
}

async function fetchRepository(repo: RepoConfig, ctx: RepoContext): Promise<LoadedRepository> {
  const keys = repo.repoGpgcheck ? await readRepoKeys(repo) : [];
  if (repo.repoGpgcheck && keys.length === 0) {
    throw new WorkerError('worker.no-keys', `repository ${repo.id}: repo_gpgcheck is on but no key is given`);
  }
  const { repomd, source, bases } = await loadRepomd(repo, ctx, keys);
  const entry = findRepomdData(repomd, 'primary');
  if (entry === undefined) {
    throw new WorkerError('worker.no-primary', `repository ${repo.id}: repomd.xml lists no primary data`);
  }
  // A mirror whose primary file is corrupt or out of date is skipped, as librepo does; the
  // checksum comes from the (verified) repomd.xml, so any mirror's bytes are as good.
  let packages: PrimaryPackage[] | undefined;
  let skipped: PrimarySkip[] = [];
  let skippedCount = 0;
  let lastError: unknown;
  for (const base of bases) {
    // What a refused mirror's file skipped does not count.
    skipped = [];
    skippedCount = 0;
    const onSkip = (skip: PrimarySkip): void => {
      skippedCount++;
      if (skipped.length < MAX_SKIPS_KEPT) skipped.push(skip);
    };
    try {
      const primaryBytes = await fetchBytes(
        {
          urls: [joinUrl(base, entry.locationHref)],
          maxBytes: Math.min(entry.size ?? MAX_PRIMARY_COMPRESSED_BYTES, MAX_PRIMARY_COMPRESSED_BYTES),
          ...(entry.size !== undefined ? { length: entry.size } : {}),
        },
        httpOptions(repo, ctx),
      );
      packages = await readPrimary(primaryBytes, entry, repo.id, { onSkip });
      break;
    } catch (error) {
      const skippable =
        error instanceof HttpError ||
        (error instanceof ParseError && MIRROR_PRIMARY_FAILURES.has(error.code));
      if (!skippable) throw error;
      lastError = error;
      ctx.logger.warn({ repo: repo.id, base, err: error }, 'primary data refused, trying the next mirror');
    }
  }
  if (packages === undefined) throw lastError;
  ctx.logger.info(
    { repo: repo.id, base: bases[0], packages: packages.length, skipped: skippedCount },
    'repository loaded',
  );
  return { config: repo, bases, repomd, source, packages, skipped, skippedCount };
}

/** The package's URLs on every mirror, the one that served repomd.xml first. */
export function packageUrls(repo: LoadedRepository, pkg: PrimaryPackage): string[] {
  if (pkg.locationBase !== undefined) return [joinUrl(pkg.locationBase, pkg.locationHref)];
  return repo.bases.map((b) => joinUrl(b, pkg.locationHref));
}

/** The HTTP options for a repository's transfers (its CA, its sslverify). */
export function repoHttpOptions(repo: RepoConfig, ctx: RepoContext): HttpFetchOptions {
  return httpOptions(repo, ctx);
}
