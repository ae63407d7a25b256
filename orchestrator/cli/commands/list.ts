/**
 * `tmpl list` and `tmpl info`, with qvm-template's selections and its three output formats:
 * the human tables, `--machine-readable` (`status|...` lines) and `--machine-readable-json`.
 */
import { compareEvrParts } from '../../../protocol/evr.ts';
import type { AdminClient } from '../../qubes/admin-client.ts';
import { createApp, loadRepos } from '../context.ts';
import { flag, type OptionSpec } from '../arguments.ts';
import { OrchestratorError } from '../../errors.ts';
import { listInstalled, type InstalledTemplate } from '../../qubes/installed-templates.ts';
import { displayLine } from '../../../protocol/display-text.ts';
import { MAX_DESCRIPTION_LENGTH } from '../../../protocol/limits.ts';
import { formatTable, reportQueryWarnings } from '../output.ts';
import type { QueryWarning } from '../../../protocol/messages.ts';
import { queryRepos } from '../../worker/query.ts';
import { candidates, compareCandidates, matching, type Candidate } from '../../repos/package-choice.ts';
import { matchesSpec } from '../../../protocol/spec-match.ts';
import { formatQubesDate } from '../../qubes/template-features.ts';
import type { Command, CommandContext } from './types.ts';

const LIST_OPTIONS: readonly OptionSpec[] = [
  { name: 'all', kind: 'flag', help: 'installed and available templates (the default)' },
  { name: 'installed', kind: 'flag', help: 'installed templates' },
  { name: 'available', kind: 'flag', help: 'templates in the repositories' },
  { name: 'extras', kind: 'flag', help: 'installed templates not in any repository' },
  { name: 'upgrades', kind: 'flag', help: 'templates with a higher version available' },
  { name: 'all-versions', kind: 'flag', help: 'every version, not only the latest' },
  { name: 'machine-readable', kind: 'flag', help: 'one |-separated line per template' },
  { name: 'machine-readable-json', kind: 'flag', help: 'one JSON object' },
];

type Status = 'installed' | 'available' | 'extra' | 'upgradable';
const TITLES: Record<Status, string> = {
  installed: 'Installed Templates',
  available: 'Available Templates',
  extra: 'Extra Templates',
  upgradable: 'Available Upgrades',
};

interface Row {
  readonly status: Status;
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
  readonly reponame: string;
  readonly size: number | string;
  readonly buildtime: string;
  readonly installtime: string;
  readonly license: string;
  readonly url: string;
  readonly summary: string;
  /** With real newlines. */
  readonly description: string;
}

function fromInstalled(t: InstalledTemplate, status: Status): Row {
  return { ...t, status, size: '', description: t.description.replace(/\|/g, '\n') };
}

function fromCandidate(c: Candidate, status: Status): Row {
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

function latestOnly(list: readonly Candidate[]): Candidate[] {
  const best = new Map<string, Candidate>();
  for (const c of list) {
    const current = best.get(c.templateName);
    if (!current || compareCandidates(c, current) > 0) best.set(c.templateName, c);
  }
  return [...best.values()];
}

/** qubesadmin.utils.size_to_human. */
function sizeToHuman(size: number): string {
  if (size < 1024) return String(size);
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  if (size < 1024 * 1024 * 1024) return `${(size / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(size / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
}

/** qubesadmin's QubesVM.get_disk_utilization: the sum of its volumes' usage. */
async function diskUtilization(admin: AdminClient, vm: string): Promise<number> {
  const names = (await admin.transport.call({ dest: vm, method: 'admin.vm.volume.List' }))
    .toString('utf8')
    .split('\n')
    .filter((n) => n !== '');
  let total = 0;
  for (const name of names) {
    const usage = Number((await admin.volumeInfo(vm, name)).usage ?? '0');
    if (Number.isSafeInteger(usage) && usage > 0) total += usage;
  }
  return total;
}

async function collect(
  ctx: CommandContext,
  command: 'list' | 'info',
): Promise<{ rows: Row[]; warnings: readonly QueryWarning[] }> {
  const args = ctx.args!;
  const app = createApp(args, ctx.env, ctx.signal);
  let all = flag(args, 'all');
  const installedOnly = flag(args, 'installed');
  const available = flag(args, 'available');
  const extras = flag(args, 'extras');
  const upgrades = flag(args, 'upgrades');
  if (!installedOnly && !available && !extras && !upgrades) all = true;
  const specs = args.positionals;
  const specOk = (name: string, evr: { epoch: number; version: string; release: string }): boolean =>
    specs.length === 0 || specs.some((s) => matchesSpec(s, { name, ...evr }));

  let remote: Candidate[] = [];
  let warnings: readonly QueryWarning[] = [];
  if (all || available || extras || upgrades) {
    const repos = await loadRepos(app, args);
    for (const warning of repos.warnings) app.log.warn(warning);
    const query = await queryRepos(app, repos);
    // On stderr at once in human mode (also when nothing is left to list); in --json's object.
    warnings = query.warnings;
    const envelope =
      flag(args, 'json') && !flag(args, 'machine-readable') && !flag(args, 'machine-readable-json');
    reportQueryWarnings(ctx.stderr, envelope, warnings);
    remote = candidates(query.packages);
    if (specs.length > 0) remote = [...new Set(specs.flatMap((s) => matching(s, remote)))];
    if (!flag(args, 'all-versions')) remote = latestOnly(remote);
    remote.sort((a, b) => a.templateName.localeCompare(b.templateName) || compareCandidates(a, b));
  }
  const local = (await listInstalled(app.admin)).filter((t) => t.managed && specOk(t.name, t));
  // qvm-template's size of an installed template is its disk utilization; only info shows it.
  const used = new Map<string, number>();
  if (command === 'info') for (const t of local) used.set(t.name, await diskUtilization(app.admin, t.name));
  const installedRow = (t: InstalledTemplate, status: Status): Row => ({
    ...fromInstalled(t, status),
    size: used.get(t.name) ?? '',
  });
  const rows: Row[] = [];
  if (installedOnly || all) rows.push(...local.map((t) => installedRow(t, 'installed')));
  if (available || all) rows.push(...remote.map((c) => fromCandidate(c, 'available')));
  if (extras) {
    const names = new Set(remote.map((c) => c.templateName));
    rows.push(...local.filter((t) => !names.has(t.name)).map((t) => installedRow(t, 'extra')));
  }
  if (upgrades) {
    const byName = new Map(local.map((t) => [t.name, t]));
    for (const c of remote) {
      const t = byName.get(c.templateName);
      if (t && compareEvrParts(t, c) < 0) rows.push(fromCandidate(c, 'upgradable'));
    }
  }
  if (rows.length === 0) throw new OrchestratorError('template.not-found', 'No matching templates to list');
  return { rows, warnings };
}

function groups(rows: readonly Row[]): [Status, Row[]][] {
  const out: [Status, Row[]][] = [];
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

function listJson(row: Row): Record<string, string> {
  return { name: row.name, evr: `${row.epoch}:${row.version}-${row.release}`, reponame: row.reponame };
}

function infoJson(row: Row, replaceNewline: boolean): Record<string, string> {
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

function render(
  command: 'list' | 'info',
  { rows, warnings }: { rows: readonly Row[]; warnings: readonly QueryWarning[] },
  ctx: CommandContext,
): string {
  const args = ctx.args!;
  if (flag(args, 'machine-readable')) {
    // A '|' inside a field would shift every later field (qvm-template prints it as is): it is
    // shown as '?' except in the last field, which a reader takes whole (the description's
    // newlines are '|' there, as qvm-template writes them).
    return rows
      .map((r) => {
        const fields = [r.status, ...Object.values(command === 'list' ? listJson(r) : infoJson(r, true))];
        return (
          fields.map((f, i) => cell(i === fields.length - 1 ? f : f.replace(/\|/g, '?'))).join('|') + '\n'
        );
      })
      .join('');
  }
  if (flag(args, 'machine-readable-json') || flag(args, 'json')) {
    const out: Record<string, Record<string, string>[]> = {};
    for (const [status, group] of groups(rows)) {
      out[status] = group.map((r) => (command === 'list' ? listJson(r) : infoJson(r, false)));
    }
    // --machine-readable-json is qvm-template's object; --json adds tmpl's envelope around it.
    if (flag(args, 'json') && !flag(args, 'machine-readable-json'))
      return JSON.stringify({ command, ok: true, ...out, warnings }) + '\n';
    return JSON.stringify(out) + '\n';
  }
  let text = '';
  for (const [status, group] of groups(rows)) {
    text += TITLES[status] + '\n';
    if (command === 'list') {
      text += formatTable(
        group.map((r) => [r.name, `${r.epoch}:${r.version}-${r.release}`, r.reponame].map(cell)),
      );
    } else {
      const table: string[][] = [];
      for (const r of group) {
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
      }
      text += formatTable(table.map((row) => row.map(cell)));
    }
  }
  return text;
}

function listCommand(name: 'list' | 'info', summary: string): Command {
  return {
    name,
    summary,
    options: LIST_OPTIONS,
    usage: `tmpl ${name} [--all|--installed|--available|--extras|--upgrades] [--all-versions] [--machine-readable|--machine-readable-json] [TEMPLATESPEC...]`,
    async run(ctx) {
      ctx.stdout.write(render(name, await collect(ctx, name), ctx));
      return 0;
    },
  };
}

export const listCommands: readonly Command[] = [
  listCommand('list', 'list templates'),
  listCommand('info', 'show details of templates'),
];
