/** qvm-template's search ranking without a system: weights, AND/OR of keywords, headers, ties. */
import { describe, expect, it } from 'vitest';
import {
  latestEntries,
  rankTemplates,
  type SearchEntry,
} from '../../../orchestrator/repos/template-search.ts';

function entry(name: string, fields: Partial<SearchEntry> = {}): SearchEntry {
  return { name, epoch: 0, version: '1', release: '1', summary: '', description: '', url: '', ...fields };
}

const ENTRIES = [
  entry('debian-13', {
    summary: 'Debian template',
    description: 'minimal xfce',
    url: 'https://debian.invalid',
  }),
  entry('fedora', { summary: 'The default' }),
  entry('fedora-42-xfce', { summary: 'Fedora with Xfce' }),
  entry('whonix-gw', { summary: 'gateway', description: 'fedora based? no' }),
];

describe('rankTemplates', () => {
  it('an exact name match first, then name matches, then summary matches; sections headed', () => {
    expect(rankTemplates(ENTRIES, ['fedora'], false).map((r) => `${r.header} / ${r.name}`)).toEqual([
      'Name Exactly Matched: fedora / fedora',
      'Name Matched: fedora / fedora-42-xfce',
    ]);
    expect(rankTemplates(ENTRIES, ['Xfce'], false).map((r) => `${r.header} / ${r.name}`)).toEqual([
      'Summary Matched: Xfce / fedora-42-xfce',
    ]);
  });

  it('without --all every keyword must match; with --all any one does, in description and URL too', () => {
    expect(rankTemplates(ENTRIES, ['fedora', 'debian'], false)).toEqual([]);
    expect(rankTemplates(ENTRIES, ['fedora', 'debian'], true).map((r) => `${r.header} / ${r.name}`)).toEqual([
      'Name Exactly Matched: fedora / fedora',
      'Name & URL Matched: debian / debian-13',
      'Name Matched: fedora / fedora-42-xfce',
      'Description Matched: fedora / whonix-gw',
    ]);
  });

  it('keywords are glob patterns, case-sensitive, as fnmatchcase', () => {
    expect(rankTemplates(ENTRIES, ['fed*xf?e'], false).map((r) => r.name)).toEqual(['fedora-42-xfce']);
    expect(rankTemplates(ENTRIES, ['FEDORA'], false)).toEqual([]);
  });
});

describe('latestEntries', () => {
  it('keeps the highest EVR of each name, installed or available, sorted by name', () => {
    const remote = [entry('b', { version: '2' }), entry('a', { version: '1' })];
    const local = [entry('b', { version: '3', summary: 'installed' }), entry('a', { version: '0' })];
    expect(latestEntries(remote, local).map((e) => `${e.name}-${e.version}`)).toEqual(['a-1', 'b-3']);
  });
});
