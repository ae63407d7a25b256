/**
 * One hostile entry must not take a repository down: a template entry whose fields break a rule
 * is skipped and reported, the other entries are listed; a long description is cut with a
 * visible marker; rpm's whole unsigned 32-bit epoch range is accepted; and the warnings a query
 * carries are bounded.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PRIMARY_FIELD_LENGTH, parsePrimaryXml, type PrimarySkip } from '../../dispvm-worker/primary.ts';
import { DESCRIPTION_TRUNCATED_MARKER, listingOf, skipWarnings } from '../../dispvm-worker/ops-query.ts';
import type { LoadedRepository } from '../../dispvm-worker/repo-client.ts';
import { MAX_DESCRIPTION_LENGTH, MAX_EPOCH, MAX_QUERY_WARNINGS } from '../../protocol/limits.ts';
import { QueryResultSchema } from '../../protocol/messages.ts';
import { packageXml, primaryXml } from '../helpers/rpm-md-documents.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function parse(entries: readonly string[]): { names: string[]; skipped: PrimarySkip[] } {
  const skipped: PrimarySkip[] = [];
  const packages = parsePrimaryXml(enc(primaryXml(entries)), 'r', { onSkip: (s) => skipped.push(s) });
  return { names: packages.map((p) => p.name), skipped };
}

describe('a bad entry among good ones', () => {
  const good = [
    packageXml({ name: 'qubes-template-good-1' }),
    packageXml({ name: 'qubes-template-good-2', epoch: String(MAX_EPOCH) }),
  ];

  it('skips an over-long version, a bad epoch and a bad name, one warning each, and lists the rest', () => {
    const { names, skipped } = parse([
      good[0]!,
      packageXml({ name: 'qubes-template-long-version', ver: '1'.repeat(129) }),
      packageXml({ name: 'qubes-template-epoch', epoch: String(MAX_EPOCH + 1) }),
      packageXml({ name: 'qubes-template-evil\u00e9' }),
      good[1]!,
    ]);
    expect(names).toEqual(['qubes-template-good-1', 'qubes-template-good-2']);
    expect(skipped.map((s) => [s.code, s.name])).toEqual([
      ['primary.evr', 'qubes-template-long-version'],
      ['primary.evr', 'qubes-template-epoch'],
      ['primary.name', undefined],
    ]);
  });

  it('keeps a 100 KB description, cut at the field limit and marked', () => {
    const { names, skipped } = parse([
      good[0]!,
      packageXml({ name: 'qubes-template-wordy', description: 'w'.repeat(100 * 1024) }),
    ]);
    expect(names).toEqual(['qubes-template-good-1', 'qubes-template-wordy']);
    expect(skipped).toEqual([]);
    const [, wordy] = parsePrimaryXml(
      enc(
        primaryXml([
          good[0]!,
          packageXml({ name: 'qubes-template-wordy', description: 'w'.repeat(100 * 1024) }),
        ]),
      ),
      'r',
    );
    expect(wordy!.description).toHaveLength(MAX_PRIMARY_FIELD_LENGTH);
    expect(wordy!.descriptionTruncated).toBe(true);
    const listed = listingOf(wordy!);
    expect(listed.description).toHaveLength(MAX_DESCRIPTION_LENGTH);
    expect(listed.description.endsWith(DESCRIPTION_TRUNCATED_MARKER)).toBe(true);
    // A description within the limits is passed on whole, without a marker.
    const short = listingOf(parsePrimaryXml(enc(primaryXml([good[0]!])), 'r')[0]!);
    expect(short.description).toBe('Described.');
  });

  it('accepts epoch 4294967295 (rpm reads EPOCH as an unsigned 32-bit number)', () => {
    const [pkg] = parsePrimaryXml(enc(primaryXml([good[1]!])), 'r');
    expect(pkg!.epoch).toBe(4294967295);
    expect(QueryResultSchema.parse({ packages: [listingOf(pkg!)], repomd: [] }).packages[0]!.epoch).toBe(
      4294967295,
    );
  });
});

describe('query warnings', () => {
  const skip = (i: number): PrimarySkip => ({
    code: 'primary.evr',
    message: 'epoch, ver or rel out of range or charset',
    offset: 100 + i,
    name: `qubes-template-bad-${i}`,
  });
  const repo = (id: string, count: number): LoadedRepository =>
    ({
      config: { id },
      skipped: Array.from({ length: Math.min(count, MAX_QUERY_WARNINGS) }, (_, i) => skip(i)),
      skippedCount: count,
    }) as unknown as LoadedRepository;

  it('carry the code, the repository, the package and a message that fits the schema', () => {
    const warnings = skipWarnings([repo('a', 1), repo('b', 0)]);
    expect(warnings).toEqual([
      {
        code: 'primary.evr',
        repoid: 'a',
        package: 'qubes-template-bad-0',
        message: expect.stringContaining('qubes-template-bad-0') as string,
      },
    ]);
    expect(() => QueryResultSchema.parse({ packages: [], warnings, repomd: [] })).not.toThrow();
  });

  it(`are at most MAX_QUERY_WARNINGS, the last one counting the rest`, () => {
    const warnings = skipWarnings([repo('a', 60), repo('b', 5000)]);
    expect(warnings).toHaveLength(MAX_QUERY_WARNINGS);
    expect(warnings.at(-1)).toEqual({
      code: 'primary.more-skipped',
      repoid: 'b',
      message: `${5060 - (MAX_QUERY_WARNINGS - 1)} more package entries skipped`,
    });
    expect(() => QueryResultSchema.parse({ packages: [], warnings, repomd: [] })).not.toThrow();
    const tooMany = [...warnings, warnings[0]!];
    expect(QueryResultSchema.safeParse({ packages: [], warnings: tooMany, repomd: [] }).success).toBe(false);
  });
});
