/**
 * `tmpl search` ranking, as qvm-template ranks: a keyword found in the name weighs 8, in the
 * summary 4; with --all also the description 2 and the URL 1, and any keyword is enough instead
 * of all of them; an exact name match weighs 16. Sections are headed by the fields that matched.
 */
import { compareEvrParts } from '../../protocol/evr.ts';
import { fnmatchcase } from '../../protocol/fnmatch.ts';

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

export interface SearchEntry {
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

/** qvm-template sorts equal weights by their (weight, keyword, exact) needles, as Python compares lists. */
function compareNeedles(a: readonly Needle[], b: readonly Needle[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [x, y] = [a[i]!, b[i]!];
    if (x[0] !== y[0]) return x[0] - y[0];
    if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
    if (x[2] !== y[2]) return Number(x[2]) - Number(y[2]);
  }
  return a.length - b.length;
}

/** 'Name & Summary Matched: fedora': the fields that matched, exactly or not, and the keywords. */
function sectionHeader(needles: readonly Needle[]): string {
  const weights = new Set(needles.map((n) => n[0]));
  const fields = FIELDS.filter(([w]) => weights.has(w)).map(([, f]) => f);
  const exact = needles.every((n) => n[2]);
  const words = [...new Set(needles.map((n) => n[1]))].sort();
  return `${fields.join(' & ')} ${exact ? 'Exactly Matched' : 'Matched'}: ${words.join(', ')}`;
}

/** The matching templates, best first, each with the header of its section. */
export function rankTemplates(
  entries: readonly SearchEntry[],
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
  const sorted = [...byIndex.entries()].sort(([ia, na], [ib, nb]) => {
    const wa = na.reduce((s, n) => s + n[0], 0);
    const wb = nb.reduce((s, n) => s + n[0], 0);
    if (wa !== wb) return wb - wa;
    const byNeedles = compareNeedles(na, nb);
    if (byNeedles !== 0) return byNeedles;
    const [a, b] = [entries[ia]!.name, entries[ib]!.name];
    return a < b ? -1 : a > b ? 1 : 0;
  });
  return sorted.map(([index, needles]) => ({
    header: sectionHeader(needles),
    name: entries[index]!.name,
    summary: entries[index]!.summary,
  }));
}

/** The latest version of each template, installed or available, in name order. */
export function latestEntries(remote: readonly SearchEntry[], local: readonly SearchEntry[]): SearchEntry[] {
  const latest = new Map<string, SearchEntry>();
  for (const e of [...remote, ...local]) {
    const current = latest.get(e.name);
    if (!current || compareEvrParts(e, current) > 0) latest.set(e.name, e);
  }
  return [...latest.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
