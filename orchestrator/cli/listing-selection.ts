/**
 * What `tmpl list` and `tmpl info` show, chosen as qvm-template chooses: installed templates
 * (managed ones only), available packages (the latest of each template unless --all-versions),
 * extras (installed, in no repository) and upgrades (available above the installed EVR), in that
 * order. Pure: the command gathers the installed templates and the listing, this selects.
 */
import { compareEvrParts } from '../../protocol/evr.ts';
import { matchesSpec } from '../../protocol/spec-match.ts';
import { OrchestratorError } from '../errors.ts';
import type { InstalledTemplate } from '../qubes/installed-templates.ts';
import { formatQubesDate } from '../qubes/template-features.ts';
import { compareCandidates, matching, type Candidate } from '../repos/package-choice.ts';

export type ListStatus = 'installed' | 'available' | 'extra' | 'upgradable';

/** One row of a listing, whichever side it comes from. */
export interface ListingRow {
  readonly status: ListStatus;
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
  readonly reponame: string;
  /** Bytes (the download size, or an installed template's disk use for info), or '' if unknown. */
  readonly size: number | string;
  readonly buildtime: string;
  readonly installtime: string;
  readonly license: string;
  readonly url: string;
  readonly summary: string;
  /** With real newlines. */
  readonly description: string;
}

/** The selection flags of list/info; none set means --all. */
export interface ListingFlags {
  readonly all: boolean;
  readonly installed: boolean;
  readonly available: boolean;
  readonly extras: boolean;
  readonly upgrades: boolean;
  readonly allVersions: boolean;
}

/** Whether the selection needs the repositories' listing (everything but --installed alone). */
export function listingNeedsRepos(flags: ListingFlags): boolean {
  return listsAll(flags) || flags.available || flags.extras || flags.upgrades;
}

function listsAll(flags: ListingFlags): boolean {
  return flags.all || (!flags.installed && !flags.available && !flags.extras && !flags.upgrades);
}

/** The managed installed templates a spec names (all of them without specs). */
export function listedInstalled(
  local: readonly InstalledTemplate[],
  specs: readonly string[],
): InstalledTemplate[] {
  return local.filter((t) => t.managed && (specs.length === 0 || specs.some((s) => matchesSpec(s, t))));
}

/** The available packages a spec names, the latest of each template unless allVersions, sorted. */
export function listedAvailable(
  listing: readonly Candidate[],
  specs: readonly string[],
  allVersions: boolean,
): Candidate[] {
  let remote = specs.length > 0 ? [...new Set(specs.flatMap((s) => matching(s, listing)))] : [...listing];
  if (!allVersions) remote = latestOnly(remote);
  return remote.sort((a, b) => a.templateName.localeCompare(b.templateName) || compareCandidates(a, b));
}

function latestOnly(list: readonly Candidate[]): Candidate[] {
  const best = new Map<string, Candidate>();
  for (const c of list) {
    const current = best.get(c.templateName);
    if (!current || compareCandidates(c, current) > 0) best.set(c.templateName, c);
  }
  return [...best.values()];
}

function fromInstalled(t: InstalledTemplate, status: ListStatus, size: number | undefined): ListingRow {
  return { ...t, status, size: size ?? '', description: t.description.replace(/\|/g, '\n') };
}

function fromCandidate(c: Candidate, status: ListStatus): ListingRow {
  return {
    status,
    name: c.templateName,
    epoch: c.epoch,
    version: c.version,
    release: c.release,
    reponame: c.repoid,
    size: c.downloadsize,
    buildtime: formatQubesDate(c.buildtime),
    installtime: '',
    license: c.license,
    url: c.url,
    summary: c.summary,
    description: c.description,
  };
}

/**
 * The rows to show, grouped by status in qvm-template's order. `local` and `remote` are already
 * narrowed by listedInstalled/listedAvailable; `used` is the disk use info shows for installed
 * templates. Throws template.not-found when nothing is left, as qvm-template does.
 */
export function selectListing(
  flags: ListingFlags,
  local: readonly InstalledTemplate[],
  remote: readonly Candidate[],
  used: ReadonlyMap<string, number> = new Map(),
): ListingRow[] {
  const all = listsAll(flags);
  const installedRow = (t: InstalledTemplate, status: ListStatus): ListingRow =>
    fromInstalled(t, status, used.get(t.name));
  const rows: ListingRow[] = [];
  if (flags.installed || all) rows.push(...local.map((t) => installedRow(t, 'installed')));
  if (flags.available || all) rows.push(...remote.map((c) => fromCandidate(c, 'available')));
  if (flags.extras) {
    const names = new Set(remote.map((c) => c.templateName));
    rows.push(...local.filter((t) => !names.has(t.name)).map((t) => installedRow(t, 'extra')));
  }
  if (flags.upgrades) {
    const byName = new Map(local.map((t) => [t.name, t]));
    for (const c of remote) {
      const t = byName.get(c.templateName);
      if (t && compareEvrParts(t, c) < 0) rows.push(fromCandidate(c, 'upgradable'));
    }
  }
  if (rows.length === 0) throw new OrchestratorError('template.not-found', 'No matching templates to list');
  return rows;
}
