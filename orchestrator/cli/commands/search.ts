/**
 * `tmpl search [--all] KEYWORD...`: qvm-template's ranking (name 8, summary 4; with --all also
 * description 2 and url 1, OR instead of AND; an exact name match 16) and headers.
 */
import { compareEvrParts } from '../../../protocol/evr.ts';
import { fnmatchcase } from '../../../protocol/fnmatch.ts';
import { createApp, loadRepos } from '../context.ts';
import { flag, type OptionSpec } from '../arguments.ts';
import { listInstalled } from '../../qubes/installed-templates.ts';
import { displayLine } from '../../../protocol/display-text.ts';
import { reportQueryWarnings } from '../output.ts';
import { queryRepos } from '../../worker/query.ts';
import { candidates } from '../../repos/package-choice.ts';
import type { Command } from './types.ts';

const WEIGHT_NAME_EXACT = 16;
const WEIGHT_NAME = 8;
const WEIGHT_SUMMARY = 4;
const WEIGHT_DESCRIPTION = 2;
const WEIGHT_URL = 1;
const FIELDS: [number, string][] = [
  [WEIGHT_NAME_EXACT, 'Name'],
  [WEIGHT_NAME, 'Name'],
  [WEIGHT_SUMMARY, 'Summary'],
  [WEIGHT_DESCRIPTION, 'Description'],
  [WEIGHT_URL, 'URL'],
];

interface Entry {
  name: string;
  epoch: number;
  version: string;
  release: string;
  summary: string;
  description: string;
  url: string;
}
type Needle = [weight: number, keyword: string, exact: boolean];

/** Python's fnmatch.fnmatch on POSIX is fnmatchcase after os.path.normcase, which is identity. */
function contains(haystack: string, keyword: string): boolean {
  return fnmatchcase(haystack, `*${keyword}*`);
}

export interface SearchResult {
  /** qvm-template's section header, e.g. 'Name & Summary Matched: fedora'. */
  readonly header: string;
  readonly name: string;
  readonly summary: string;
}

/** The matching templates, best first, each with the header of its section. */
export function rankTemplates(
  entries: readonly Entry[],
  keywords: readonly string[],
  all: boolean,
): SearchResult[] {
  const byIndex = new Map<number, Needle[]>();
  for (const keyword of keywords) {
    entries.forEach((entry, index) => {
      const fields: [string, number][] = [
        [entry.name, WEIGHT_NAME],
        [entry.summary, WEIGHT_SUMMARY],
      ];
      if (all) fields.push([entry.description, WEIGHT_DESCRIPTION], [entry.url, WEIGHT_URL]);
      for (const [text, base] of fields) {
        if (!contains(text, keyword)) continue;
        const exact = keyword === text;
        const weight = exact && base === WEIGHT_NAME ? WEIGHT_NAME_EXACT : base;
        const list = byIndex.get(index) ?? [];
        list.push([weight, keyword, exact]);
        byIndex.set(index, list);
      }
    });
  }
  if (!all) {
    const wanted = new Set(keywords);
    for (const [index, needles] of byIndex) {
      const got = new Set(needles.map((n) => n[1]));
      if (got.size !== wanted.size || [...wanted].some((k) => !got.has(k))) byIndex.delete(index);
    }
  }
  const compareNeedles = (a: Needle[], b: Needle[]): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const [x, y] = [a[i]!, b[i]!];
      if (x[0] !== y[0]) return x[0] - y[0];
      if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
      if (x[2] !== y[2]) return Number(x[2]) - Number(y[2]);
    }
    return a.length - b.length;
  };
  const sorted = [...byIndex.entries()].sort(([ia, na], [ib, nb]) => {
    const wa = na.reduce((s, n) => s + n[0], 0);
    const wb = nb.reduce((s, n) => s + n[0], 0);
    if (wa !== wb) return wb - wa;
    const byNeedles = compareNeedles(na, nb);
    if (byNeedles !== 0) return byNeedles;
    const [a, b] = [entries[ia]!.name, entries[ib]!.name];
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const header = (needles: Needle[]): string => {
    const weights = new Set(needles.map((n) => n[0]));
    const fields = FIELDS.filter(([w]) => weights.has(w)).map(([, f]) => f);
    const exact = needles.every((n) => n[2]);
    const words = [...new Set(needles.map((n) => n[1]))].sort();
    return `${fields.join(' & ')} ${exact ? 'Exactly Matched' : 'Matched'}: ${words.join(', ')}`;
  };
  return sorted.map(([index, needles]) => ({
    header: header(needles),
    name: entries[index]!.name,
    summary: entries[index]!.summary,
  }));
}

/** qvm-template's output: a `=== header ===` line before each section, `name : summary` rows. */
export function searchTemplates(
  entries: readonly Entry[],
  keywords: readonly string[],
  all: boolean,
): string {
  let last = '';
  let out = '';
  for (const r of rankTemplates(entries, keywords, all)) {
    if (r.header !== last) {
      last = r.header;
      out += `=== ${displayLine(r.header)} ===\n`;
    }
    out += `${displayLine(r.name)} : ${displayLine(r.summary)}\n`;
  }
  return out;
}

export const searchCommand: Command = {
  name: 'search',
  summary: 'search templates by name and summary (--all: also description and URL)',
  options: [
    { name: 'all', kind: 'flag', help: 'also match description and URL, any keyword' } satisfies OptionSpec,
  ],
  usage: 'tmpl search [--all] KEYWORD...',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env, ctx.signal);
    const repos = await loadRepos(app, args);
    const query = await queryRepos(app, repos);
    reportQueryWarnings(ctx.stderr, flag(args, 'json'), query.warnings);
    const remote: Entry[] = candidates(query.packages).map((c) => ({
      ...c,
      name: c.templateName,
    }));
    const local: Entry[] = (await listInstalled(app.admin))
      .filter((t) => t.managed)
      .map((t) => ({ ...t, description: t.description.replace(/\|/g, '\n') }));
    // The latest version of each template, installed or available.
    const latest = new Map<string, Entry>();
    for (const e of [...remote, ...local]) {
      const current = latest.get(e.name);
      if (!current || compareEvrParts(e, current) > 0) latest.set(e.name, e);
    }
    const entries = [...latest.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (flag(args, 'json')) {
      const results = rankTemplates(entries, args.positionals, flag(args, 'all'));
      ctx.stdout.write(
        JSON.stringify({ command: 'search', ok: true, results, warnings: query.warnings }) + '\n',
      );
    } else {
      ctx.stdout.write(searchTemplates(entries, args.positionals, flag(args, 'all')));
    }
    return 0;
  },
};
