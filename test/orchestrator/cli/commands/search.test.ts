import { describe, expect, it } from 'vitest';
import { formatSearchResults } from '../../../../orchestrator/cli/report-format.ts';
import { rankTemplates, type SearchEntry } from '../../../../orchestrator/repos/template-search.ts';

/** What `tmpl search` prints for these entries and keywords. */
function searchTemplates(entries: SearchEntry[], keywords: string[], all: boolean): string {
  return formatSearchResults(rankTemplates(entries, keywords, all));
}

function entry(name: string, summary: string) {
  return { name, epoch: 0, version: '4.3.0', release: '1', summary, description: '', url: '' };
}

describe('searchTemplates output', () => {
  it('prints qvm-template sections and rows for ordinary text unchanged', () => {
    expect(searchTemplates([entry('fedora-42-xfce', 'Fedora 42 | Xfce')], ['fedora'], false)).toBe(
      '=== Name Matched: fedora ===\nfedora-42-xfce : Fedora 42 | Xfce\n',
    );
  });

  it('shows a hostile summary and keyword on one escaped line each (no raw control or separator)', () => {
    // What a repository may put in a summary past the listing schema (which refuses controls
    // and bidi overrides): separators, zero-width and other format characters.
    const out = searchTemplates(
      [entry('debian-13', "Debian\u2028Template 'x' installed\u200b\u00ad\ufeff")],
      ['debian*'],
      false,
    );
    expect(out).toBe(
      "=== Name Matched: debian* ===\ndebian-13 : Debian\\u2028Template 'x' installed\\u200b\\u00ad\\ufeff\n",
    );
    // A keyword pasted with an escape, and a name with one (an installed VM's name is Qubes-checked,
    // but the function does not rely on it).
    const keyword = searchTemplates([entry('evil\x1b[2J', 'x')], ['evil\x1b*'], false);
    expect(keyword).toBe('=== Name Matched: evil\\x1b* ===\nevil\\x1b[2J : x\n');
  });
});
