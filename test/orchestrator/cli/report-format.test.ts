/** The smaller commands' output, from their results, without a system. */
import { describe, expect, it } from 'vitest';
import {
  formatMigration,
  formatRefreshed,
  formatRepoList,
  formatSearchResults,
  formatVerdict,
  verifyReport,
} from '../../../orchestrator/cli/report-format.ts';
import type { RepoDefinition } from '../../../orchestrator/repos/repo-config.ts';

describe('formatSearchResults', () => {
  it('a header line when the section changes, then name : summary rows', () => {
    const results = [
      { header: 'Name Exactly Matched: a', name: 'a', summary: 'A' },
      { header: 'Name Matched: a', name: 'ab', summary: 'AB' },
      { header: 'Name Matched: a', name: 'ac', summary: 'AC' },
    ];
    expect(formatSearchResults(results)).toBe(
      '=== Name Exactly Matched: a ===\na : A\n=== Name Matched: a ===\nab : AB\nac : AC\n',
    );
  });
});

describe('formatRepoList', () => {
  const repos = [
    { id: 'itl', name: 'Qubes Templates', enabled: true },
    { id: 'community\x1b[2J', name: 'Community', enabled: false },
  ] as RepoDefinition[];
  it('id and name columns; the status column only when asked; hostile text escaped', () => {
    expect(formatRepoList(repos.slice(0, 1), false)).toBe('repo id  repo name\nitl      Qubes Templates\n');
    expect(formatRepoList(repos, true)).toBe(
      'repo id           repo name        status\n' +
        'itl               Qubes Templates  enabled\n' +
        'community\\x1b[2J  Community        disabled\n',
    );
  });
});

describe('verify output', () => {
  const good = { path: 'a.rpm', ok: true, signaturesChecked: true, fingerprint: 'ABCD' };
  const bad = {
    path: 'b.rpm',
    ok: false,
    signaturesChecked: false,
    error: { code: 'digest.header-mismatch' as const, message: 'header\ndigest' },
  };

  it('one rpmkeys-style line per package, the reason on the same line', () => {
    expect(formatVerdict(good)).toBe('a.rpm: digests signatures OK');
    expect(formatVerdict(bad)).toBe('b.rpm: digests NOT OK (digest.header-mismatch: header\\ndigest)');
  });

  it('--json: every verdict, ok only if all passed, the first failure code as the error', () => {
    expect(JSON.parse(verifyReport([good]))).toEqual({
      command: 'verify',
      ok: true,
      packages: [{ path: 'a.rpm', ok: true, signaturesChecked: true, fingerprint: 'ABCD' }],
    });
    const report = JSON.parse(verifyReport([good, bad]));
    expect(report.ok).toBe(false);
    expect(report.error).toEqual({
      code: 'digest.header-mismatch',
      message: '1 of 2 packages failed verification',
    });
    expect(report.packages[1].error).toEqual({ code: 'digest.header-mismatch', message: 'header\\ndigest' });
  });
});

describe('formatMigration and formatRefreshed', () => {
  it('says what was (or would be) migrated and dropped', () => {
    const result = { migrated: ['legacy'], dropped: ['qubes-template-legacy', 'qubes-template-gone'] };
    expect(formatMigration(result, false)).toBe(
      'migrated legacy\nremoved qubes-template-legacy from the rpm database\n' +
        'removed qubes-template-gone from the rpm database\n',
    );
    expect(formatMigration(result, true).split('\n')[0]).toBe('would migrate legacy');
  });

  it('names the updated features, or says up to date', () => {
    const out = formatRefreshed([
      { template: 'a', changed: ['template-summary', 'template-url'] },
      { template: 'b', changed: [] },
    ]);
    expect(out).toBe('a: updated template-summary, template-url\nb: up to date\n');
  });
});
