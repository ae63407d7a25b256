/**
 * Template repository definitions: /etc/qubes/repo-templates/*.repo read as dnf reads them
 * (qvm-template sends these files to dnf in the UpdateVM), with the options qvm-template and
 * dnf use for template repositories, `$releasever`-style substitution, and the default glob.
 *
 * Option semantics follow libdnf's option types: booleans as OptionBool (1/yes/true/on,
 * 0/no/false/off, any case), URL lists as OptionStringList (separated by whitespace, commas and
 * continuation lines), metadata_expire as OptionSeconds (N, Ns, Nm, Nh, Nd, or -1/never).
 * Variable substitution is in repo-variables.ts.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  fnmatchcase,
  isGlobPattern,
  MAX_BASEURLS,
  MAX_KEYS_PER_REPO,
  MAX_REPOS,
  MAX_URL_LENGTH,
  ParseError,
} from '../../protocol/index.ts';
import { parseIni, type IniSection } from './ini-file.ts';
import type { RepoConfigErrorCode } from '../../protocol/error-codes.ts';
export type { RepoConfigErrorCode };
import { substituteVariables, variablesFor, type RepoVariables } from './repo-variables.ts';

export { substituteVariables, type RepoVariables } from './repo-variables.ts';

/** Where qvm-template looks by default. */
export const DEFAULT_REPO_FILES_GLOB = '/etc/qubes/repo-templates/*.repo';
/** Most .repo files read. */
export const MAX_REPO_FILES = 64;
/** libdnf's default metadata_expire: 48 hours. */
export const DEFAULT_METADATA_EXPIRE_SECONDS = 48 * 60 * 60;
/**
 * How old the signature of a repository's repomd.xml may be before tmpl says the metadata may
 * be frozen (metadata_max_age): four weeks. Repositories that publish re-sign on every push.
 */
export const DEFAULT_METADATA_MAX_AGE_SECONDS = 4 * 7 * 24 * 60 * 60;
/** Largest metadata_max_age: ten years, far beyond any useful bound, small enough to add to a date. */
export const MAX_METADATA_MAX_AGE_SECONDS = 10 * 366 * 24 * 60 * 60;
/** What metadata_max_age_action may say: warn (the default) or refuse the metadata. */
export const METADATA_MAX_AGE_ACTIONS = ['warn', 'refuse'] as const;
export type MetadataMaxAgeAction = (typeof METADATA_MAX_AGE_ACTIONS)[number];

export interface RepoDefinition {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly baseurls: readonly string[];
  readonly metalink?: string;
  readonly mirrorlist?: string;
  readonly gpgcheck: boolean;
  readonly repoGpgcheck: boolean;
  /** gpgkey URLs (file:// or https://), in order. */
  readonly gpgkeys: readonly string[];
  /** Seconds; -1 for never. */
  readonly metadataExpire: number;
  /** metadata_max_age in seconds; null for never (no age check). */
  readonly metadataMaxAge: number | null;
  /** metadata_max_age_action: what an older repomd.xml signature leads to. */
  readonly metadataMaxAgeAction: MetadataMaxAgeAction;
  readonly sslcacert?: string;
  readonly sslclientcert?: string;
  readonly sslclientkey?: string;
  readonly sslverify: boolean;
  /** The file it came from. */
  readonly file: string;
}

/** libdnf Repo::verifyId: letters, digits and -_.: only. */
const REPO_ID = /^[A-Za-z0-9_.:-]{1,100}$/;

function parseBool(value: string, key: string, offset: number): boolean {
  const v = value.toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(v)) return true;
  if (['0', 'no', 'false', 'off'].includes(v)) return false;
  throw new ParseError('repo-config.bool', `${key}=${value.slice(0, 32)} is not a boolean`, offset);
}

function parseSeconds(value: string, offset: number): number {
  const v = value.toLowerCase();
  if (v === '-1' || v === 'never') return -1;
  const m = /^([0-9]+(?:\.[0-9]+)?)([smhd]?)$/.exec(v);
  if (m === null)
    throw new ParseError(
      'repo-config.seconds',
      `metadata_expire=${value.slice(0, 32)} is not a duration`,
      offset,
    );
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Math.floor(Number(m[1]) * unit);
}

/**
 * metadata_max_age (tmpl's option): N seconds, or N with s, m, h, d or w, or `never`. Whole
 * numbers only, above zero, at most MAX_METADATA_MAX_AGE_SECONDS.
 */
export function parseMaxAge(value: string, offset: number): number | null {
  const v = value.toLowerCase();
  if (v === 'never') return null;
  const m = /^([0-9]{1,12})([smhdw]?)$/.exec(v);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 }[
    (m?.[2] ?? '') as '' | 's' | 'm' | 'h' | 'd' | 'w'
  ];
  const seconds = m === null ? NaN : Number(m[1]) * unit;
  if (!(seconds > 0 && seconds <= MAX_METADATA_MAX_AGE_SECONDS)) {
    throw new ParseError(
      'repo-config.max-age',
      `metadata_max_age=${value.slice(0, 32)} is not a duration (N, Ns, Nm, Nh, Nd, Nw, above zero and at most ${MAX_METADATA_MAX_AGE_SECONDS} seconds, or never)`,
      offset,
    );
  }
  return seconds;
}

function parseMaxAgeAction(value: string, offset: number): MetadataMaxAgeAction {
  const v = value.toLowerCase();
  if ((METADATA_MAX_AGE_ACTIONS as readonly string[]).includes(v)) return v as MetadataMaxAgeAction;
  throw new ParseError(
    'repo-config.max-age-action',
    `metadata_max_age_action=${value.slice(0, 32)} is not one of ${METADATA_MAX_AGE_ACTIONS.join(', ')}`,
    offset,
  );
}

function checkUrl(value: string, key: string, offset: number, schemes: readonly string[]): string {
  if (value.length > MAX_URL_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ParseError('repo-config.url', `${key} is not a URL of printable ASCII`, offset);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined || !schemes.includes(scheme)) {
    throw new ParseError('repo-config.url', `${key} must be a ${schemes.join('/')} URL`, offset);
  }
  return value;
}

/** OptionStringList: items separated by whitespace (continuation lines included) and commas. */
function splitList(value: string): string[] {
  return value.split(/[\s,]+/).filter((s) => s !== '');
}

function readRepo(section: IniSection, id: string, file: string, vars: Map<string, string>): RepoDefinition {
  const at = section.offset;
  const get = (key: string): string | undefined => {
    const raw = section.values.get(key);
    return raw === undefined ? undefined : substituteVariables(raw, vars);
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = get(key);
    return v === undefined ? fallback : parseBool(v, key, at);
  };
  const urls = (key: string, schemes: readonly string[], max: number): string[] => {
    const list = splitList(get(key) ?? '').map((u) => checkUrl(u, key, at, schemes));
    if (list.length > max)
      throw new ParseError('repo-config.too-many', `more than ${max} ${key} entries`, at);
    return list;
  };
  const single = (key: string): string | undefined => {
    const v = get(key);
    return v === undefined || v === '' ? undefined : checkUrl(v, key, at, ['https', 'http', 'file']);
  };
  const pathOption = (key: string): string | undefined => {
    const v = get(key);
    return v === undefined || v === '' ? undefined : v;
  };
  const metadataExpire = get('metadata_expire');
  const maxAge = get('metadata_max_age');
  const maxAgeAction = get('metadata_max_age_action');
  const metalink = single('metalink');
  const mirrorlist = single('mirrorlist');
  const sslcacert = pathOption('sslcacert');
  const sslclientcert = pathOption('sslclientcert');
  const sslclientkey = pathOption('sslclientkey');
  return {
    id,
    name: get('name') ?? id,
    enabled: bool('enabled', true),
    baseurls: urls('baseurl', ['https', 'http', 'file'], MAX_BASEURLS),
    ...(metalink !== undefined ? { metalink } : {}),
    ...(mirrorlist !== undefined ? { mirrorlist } : {}),
    gpgcheck: bool('gpgcheck', false),
    repoGpgcheck: bool('repo_gpgcheck', false),
    gpgkeys: urls('gpgkey', ['file', 'https', 'http'], MAX_KEYS_PER_REPO),
    metadataExpire:
      metadataExpire === undefined ? DEFAULT_METADATA_EXPIRE_SECONDS : parseSeconds(metadataExpire, at),
    metadataMaxAge: maxAge === undefined ? DEFAULT_METADATA_MAX_AGE_SECONDS : parseMaxAge(maxAge, at),
    metadataMaxAgeAction: maxAgeAction === undefined ? 'warn' : parseMaxAgeAction(maxAgeAction, at),
    ...(sslcacert !== undefined ? { sslcacert } : {}),
    ...(sslclientcert !== undefined ? { sslclientcert } : {}),
    ...(sslclientkey !== undefined ? { sslclientkey } : {}),
    sslverify: bool('sslverify', true),
    file,
  };
}

/**
 * Parses one .repo file. `[main]` is skipped as dnf skips it; repo ids are substituted and
 * must be valid dnf ids. Throws ParseError ('repo-config.*').
 */
export function parseRepoFile(bytes: Uint8Array, file: string, vars: RepoVariables): RepoDefinition[] {
  const variables = variablesFor(vars);
  const repos: RepoDefinition[] = [];
  for (const section of parseIni(bytes)) {
    if (section.name === 'main') continue;
    const id = substituteVariables(section.name, variables);
    if (!REPO_ID.test(id))
      throw new ParseError('repo-config.repo-id', `bad repository id [${id.slice(0, 100)}]`, section.offset);
    repos.push(readRepo(section, id, file, variables));
  }
  return repos;
}

/**
 * Expands qvm-template's --repo-files arguments: a glob in the last path component matches the
 * directory's entries (sorted; '*' does not match a leading '.', as Python's glob); a plain path
 * must exist.
 */
export async function expandRepoFilePaths(patterns: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    const dir = path.dirname(pattern);
    const base = path.basename(pattern);
    if (isGlobPattern(dir))
      throw new ParseError('repo-config.glob', `only the file name may hold wildcards: ${pattern}`, 0);
    if (!isGlobPattern(base)) {
      files.push(pattern);
      continue;
    }
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      continue;
    }
    const hiddenAllowed = base.startsWith('.');
    files.push(
      ...entries
        .filter((e) => (hiddenAllowed || !e.startsWith('.')) && fnmatchcase(e, base))
        .sort()
        .map((e) => path.join(dir, e)),
    );
  }
  if (files.length > MAX_REPO_FILES)
    throw new ParseError('repo-config.too-many', `more than ${MAX_REPO_FILES} repo files`, 0);
  return files;
}

/**
 * Reads repository definitions from the given files or globs (default: qvm-template's
 * /etc/qubes/repo-templates/*.repo). A repository id defined twice is an error.
 */
export async function loadRepoConfig(
  vars: RepoVariables,
  patterns: readonly string[] = [DEFAULT_REPO_FILES_GLOB],
): Promise<RepoDefinition[]> {
  const repos: RepoDefinition[] = [];
  const seen = new Map<string, string>();
  for (const file of await expandRepoFilePaths(patterns)) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (cause) {
      throw new ParseError('repo-config.missing-file', `cannot read ${file}`, 0, { cause });
    }
    let parsed: RepoDefinition[];
    try {
      parsed = parseRepoFile(bytes, file, vars);
    } catch (e) {
      if (e instanceof ParseError)
        throw new ParseError(e.code, `${file}: ${e.message}`, e.offset, { cause: e });
      throw e;
    }
    for (const repo of parsed) {
      const other = seen.get(repo.id);
      if (other !== undefined) {
        throw new ParseError(
          'repo-config.duplicate-repo',
          `repository ${repo.id} in ${other} and ${file}`,
          0,
        );
      }
      seen.set(repo.id, file);
      repos.push(repo);
    }
  }
  if (repos.length > MAX_REPOS)
    throw new ParseError('repo-config.too-many', `more than ${MAX_REPOS} repositories`, 0);
  return repos;
}
