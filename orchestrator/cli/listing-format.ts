/**
 * `tmpl list` and `tmpl info` output in qvm-template's three formats: the human tables,
 * `--machine-readable` (`status|...` lines) and `--machine-readable-json`; and tmpl's `--json`
 * envelope around the latter. Every field is printed as one terminal-safe line.
 */
import { displayLine } from '../../protocol/display-text.ts';
import { MAX_DESCRIPTION_LENGTH } from '../../protocol/limits.ts';
import type { QueryWarning } from '../../protocol/messages.ts';
import type { ListingRow, ListStatus } from './listing-selection.ts';
import { formatTable } from './output.ts';

export type ListingCommand = 'list' | 'info';
export type ListingFormat = 'table' | 'machine-readable' | 'machine-readable-json' | 'json';

const TITLES: Record<ListStatus, string> = {
  installed: 'Installed Templates',
  available: 'Available Templates',
  extra: 'Extra Templates',
  upgradable: 'Available Upgrades',
};

/** The format the options ask for: --machine-readable wins, then -json, then --json. */
export function listingFormat(options: {
  machineReadable: boolean;
  machineReadableJson: boolean;
  json: boolean;
}): ListingFormat {
  if (options.machineReadable) return 'machine-readable';
  if (options.machineReadableJson) return 'machine-readable-json';
  return options.json ? 'json' : 'table';
}

/** qubesadmin.utils.size_to_human. */
export function sizeToHuman(size: number): string {
  if (size < 1024) return String(size);
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  if (size < 1024 * 1024 * 1024) return `${(size / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(size / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
}

function groups(rows: readonly ListingRow[]): [ListStatus, ListingRow[]][] {
  const out: [ListStatus, ListingRow[]][] = [];
  for (const row of rows) {
    const last = out.at(-1);
    if (last && last[0] === row.status) last[1].push(row);
    else out.push([row.status, [row]]);
  }
  return out;
}

/** A field as one terminal-safe line, whole up to the longest description a listing may carry. */
function cell(text: string): string {
  return displayLine(text, MAX_DESCRIPTION_LENGTH);
}

function listJson(row: ListingRow): Record<string, string> {
  return { name: row.name, evr: `${row.epoch}:${row.version}-${row.release}`, reponame: row.reponame };
}

function infoJson(row: ListingRow, replaceNewline: boolean): Record<string, string> {
  return {
    name: row.name,
    epoch: String(row.epoch),
    version: row.version,
    release: row.release,
    reponame: row.reponame,
    size: String(row.size),
    buildtime: row.buildtime,
    installtime: row.installtime,
    license: row.license,
    url: row.url,
    summary: row.summary,
    description: replaceNewline ? row.description.replace(/\n/g, '|') : row.description,
  };
}

/**
 * A '|' inside a field would shift every later field (qvm-template prints it as is): it is shown
 * as '?' except in the last field, which a reader takes whole (the description's newlines are
 * '|' there, as qvm-template writes them).
 */
function machineReadable(command: ListingCommand, rows: readonly ListingRow[]): string {
  return rows
    .map((r) => {
      const fields = [r.status, ...Object.values(command === 'list' ? listJson(r) : infoJson(r, true))];
      return fields.map((f, i) => cell(i === fields.length - 1 ? f : f.replace(/\|/g, '?'))).join('|') + '\n';
    })
    .join('');
}

/** qvm-template's object of groups; --json adds tmpl's envelope (command, ok, warnings) around it. */
function jsonListing(
  command: ListingCommand,
  rows: readonly ListingRow[],
  envelope: readonly QueryWarning[] | undefined,
): string {
  const out: Record<string, Record<string, string>[]> = {};
  for (const [status, group] of groups(rows)) {
    out[status] = group.map((r) => (command === 'list' ? listJson(r) : infoJson(r, false)));
  }
  if (envelope) return JSON.stringify({ command, ok: true, ...out, warnings: envelope }) + '\n';
  return JSON.stringify(out) + '\n';
}

/** `info`'s table of one template: `Field : value` lines, the description one line per line. */
function infoTable(r: ListingRow): string[][] {
  const table: string[][] = [];
  table.push(['Name', ':', r.name], ['Epoch', ':', String(r.epoch)], ['Version', ':', r.version]);
  table.push(['Release', ':', r.release]);
  table.push(['Size', ':', typeof r.size === 'number' ? sizeToHuman(r.size) : r.size]);
  table.push(['Repository', ':', r.reponame], ['Buildtime', ':', r.buildtime]);
  if (r.installtime) table.push(['Install time', ':', r.installtime]);
  table.push(['URL', ':', r.url], ['License', ':', r.license], ['Summary', ':', r.summary]);
  let title = 'Description';
  for (const line of r.description.split('\n')) {
    table.push([title, ':', line]);
    title = '';
  }
  table.push([' ', ' ', ' ']);
  return table;
}

/** The human tables: a title per group, then `name  evr  repo` rows (list) or field tables (info). */
function humanListing(command: ListingCommand, rows: readonly ListingRow[]): string {
  let text = '';
  for (const [status, group] of groups(rows)) {
    text += TITLES[status] + '\n';
    const table =
      command === 'list'
        ? group.map((r) => [r.name, `${r.epoch}:${r.version}-${r.release}`, r.reponame])
        : group.flatMap(infoTable);
    text += formatTable(table.map((row) => row.map(cell)));
  }
  return text;
}

/** The whole output of list or info in the given format; warnings go only into --json's envelope. */
export function formatListing(
  command: ListingCommand,
  rows: readonly ListingRow[],
  format: ListingFormat,
  warnings: readonly QueryWarning[],
): string {
  switch (format) {
    case 'machine-readable':
      return machineReadable(command, rows);
    case 'machine-readable-json':
      return jsonListing(command, rows, undefined);
    case 'json':
      return jsonListing(command, rows, warnings);
    case 'table':
      return humanListing(command, rows);
  }
}
