/**
 * What the smaller commands print for people (search, repolist, verify, migrate-from-rpmdb,
 * refresh-metadata) and verify's --json object. Pure: each takes the command's result and
 * returns the text. Anything a repository, a package or the user supplied is printed as one
 * terminal-safe line.
 */
import { displayLine } from '../../protocol/display-text.ts';
import type { RepoDefinition } from '../repos/repo-config.ts';
import type { SearchResult } from '../repos/template-search.ts';
import type { PackageVerdict } from '../verify/package-file.ts';
import { formatTable } from './output.ts';

/** qvm-template's search output: a `=== header ===` line before each section, `name : summary` rows. */
export function formatSearchResults(results: readonly SearchResult[]): string {
  let last = '';
  let out = '';
  for (const r of results) {
    if (r.header !== last) {
      last = r.header;
      out += `=== ${displayLine(r.header)} ===\n`;
    }
    out += `${displayLine(r.name)} : ${displayLine(r.summary)}\n`;
  }
  return out;
}

/** dnf's repolist table: id and name, and with --all each repository's status. */
export function formatRepoList(shown: readonly RepoDefinition[], withStatus: boolean): string {
  const rows = [['repo id', 'repo name', ...(withStatus ? ['status'] : [])]];
  for (const r of shown) {
    const status = withStatus ? [r.enabled ? 'enabled' : 'disabled'] : [];
    rows.push([r.id, r.name, ...status].map((c) => displayLine(c)));
  }
  return formatTable(rows);
}

/**
 * The verdict line, in rpmkeys' words: `PATH: digests signatures OK`. One line whatever the path
 * or the reason holds: a reason may quote strings of the (unverified) header.
 */
export function formatVerdict(v: PackageVerdict): string {
  const what = v.signaturesChecked ? 'digests signatures' : 'digests';
  if (v.ok) return displayLine(`${v.path}: ${what} OK`);
  const reason = v.error === undefined ? '' : ` (${v.error.code}: ${v.error.message})`;
  return displayLine(`${v.path}: ${what} NOT OK${reason}`);
}

/** `tmpl verify --json`: every verdict, and the first failure's code as the command's error. */
export function verifyReport(verdicts: readonly PackageVerdict[]): string {
  const failed = verdicts.filter((v) => !v.ok);
  const packages = verdicts.map((v) => ({
    path: v.path,
    ok: v.ok,
    signaturesChecked: v.signaturesChecked,
    ...(v.error ? { error: { code: v.error.code, message: displayLine(v.error.message) } } : {}),
    ...(v.fingerprint ? { fingerprint: v.fingerprint } : {}),
  }));
  const error = failed[0]?.error && {
    code: failed[0].error.code,
    message: `${failed.length} of ${verdicts.length} packages failed verification`,
  };
  return (
    JSON.stringify({ command: 'verify', ok: failed.length === 0, packages, ...(error ? { error } : {}) }) +
    '\n'
  );
}

/** migrate-from-rpmdb's lines: each template migrated, then each package dropped ("would" with --dry-run). */
export function formatMigration(
  result: { readonly migrated: readonly string[]; readonly dropped: readonly string[] },
  dryRun: boolean,
): string {
  const migrated = result.migrated.map((m) => `${dryRun ? 'would migrate' : 'migrated'} ${m}\n`);
  const dropped = result.dropped.map(
    (d) => `${dryRun ? 'would remove' : 'removed'} ${d} from the rpm database\n`,
  );
  return [...migrated, ...dropped].join('');
}

/** refresh-metadata's lines: `NAME: updated FEATURE, ...` or `NAME: up to date`. */
export function formatRefreshed(
  updated: readonly { readonly template: string; readonly changed: readonly string[] }[],
): string {
  return updated
    .map((u) => `${u.template}: ${u.changed.length ? `updated ${u.changed.join(', ')}` : 'up to date'}\n`)
    .join('');
}
