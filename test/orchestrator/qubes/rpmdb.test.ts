/** Reading `rpm -qa --qf` output of template packages: fields kept whole, a wrong record refused. */
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import { parseRpmdbQuery, RPMDB_QUERY_FORMAT } from '../../../orchestrator/qubes/rpmdb.ts';

/** What rpm prints for one package with this query format. */
function record(fields: readonly string[]): string {
  return fields.join('|@tmpl@|') + '|@tmpl-end@|\n';
}

const LEGACY = [
  'qubes-template-legacy',
  '0',
  '4.1.0',
  '1',
  '1700000000',
  '1700000100',
  'GPL',
  'https://x.invalid',
];

describe('parseRpmdbQuery', () => {
  it('reads every record; a description keeps its newlines and a lone bar', () => {
    const out = record([...LEGACY, 'Legacy | one', 'line one\nline two']) + record([...LEGACY, 's', 'd']);
    const packages = parseRpmdbQuery(out);
    expect(packages).toHaveLength(2);
    expect(packages[0]).toEqual({
      name: 'qubes-template-legacy',
      epoch: '0',
      version: '4.1.0',
      release: '1',
      buildtime: 1700000000,
      installtime: 1700000100,
      license: 'GPL',
      url: 'https://x.invalid',
      summary: 'Legacy | one',
      description: 'line one\nline two',
    });
    expect(parseRpmdbQuery('')).toEqual([]);
  });

  it('refuses a record with a field too many or too few', () => {
    for (const fields of [
      [...LEGACY, 's'],
      [...LEGACY, 's', 'd', 'extra'],
    ]) {
      let error: unknown;
      try {
        parseRpmdbQuery(record(fields));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OrchestratorError);
      expect((error as OrchestratorError).code).toBe('qubes.exception');
    }
  });

  it('asks rpm for the ten fields in the order it reads them', () => {
    expect(RPMDB_QUERY_FORMAT.split('|@tmpl@|')).toHaveLength(10);
    expect(RPMDB_QUERY_FORMAT.startsWith('%{NAME}|@tmpl@|%{EPOCHNUM}')).toBe(true);
  });
});
