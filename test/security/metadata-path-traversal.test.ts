/**
 * Path traversal through repository metadata (the librepo CVE-2020-14352 class): a hostile
 * mirror names data files or packages with hrefs that climb out of the repository, point at an
 * absolute path or at another host. tmpl refuses them while parsing, so no download code ever
 * sees such a name: a repomd.xml with one is refused; a primary.xml package entry with one is
 * left out of the listing (and reported), so it can never be requested.
 *
 * Not a defineAttack file: the names are refused by the worker's parsers, in the disposable,
 * before any download code runs; they are tested here on the parsers, one table row per name.
 */
import { describe, expect, it } from 'vitest';
import { parsePrimaryXml, type PrimarySkip } from '../../dispvm-worker/primary.ts';
import { parseRepomd } from '../../dispvm-worker/repomd.ts';
import { parseErrorCode } from '../helpers/expect-error.ts';
import { dataEntry, packageXml, primaryXml, repomdXml } from '../helpers/rpm-md-documents.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

const HOSTILE_HREFS = [
  '../../../../etc/cron.d/evil',
  'repodata/../../../etc/passwd',
  './../x.rpm',
  '/etc/passwd',
  '//evil.example/x.rpm',
  'https://evil.example/x.rpm',
  'file:///etc/passwd',
  'repodata/%2e%2e/%2e%2e/x',
  'repodata\\..\\..\\x',
  'repodata//x.rpm',
  'x.rpm\n../y',
];

const code = parseErrorCode;

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;');

describe('hostile hrefs are refused while parsing', () => {
  it.each(HOSTILE_HREFS)('repomd.xml data location %j', (href) => {
    expect(code(() => parseRepomd(enc(repomdXml([dataEntry({ href: xmlEscape(href) })]))))).toBe(
      'repomd.href',
    );
  });

  it.each(HOSTILE_HREFS)('primary.xml package location %j', (href) => {
    const skipped: PrimarySkip[] = [];
    const doc = enc(primaryXml([packageXml({ href: xmlEscape(href) })]));
    expect(parsePrimaryXml(doc, 'r', { onSkip: (s) => skipped.push(s) })).toEqual([]);
    expect(skipped.map((s) => s.code)).toEqual(['primary.href']);
  });

  it('plain relative hrefs still work', () => {
    expect(
      parseRepomd(enc(repomdXml([dataEntry({ href: 'repodata/abc-primary.xml.gz' })]))).data[0]!.locationHref,
    ).toBe('repodata/abc-primary.xml.gz');
    expect(
      parsePrimaryXml(enc(primaryXml([packageXml({ href: 'Packages/q/x.rpm' })])), 'r')[0]!.locationHref,
    ).toBe('Packages/q/x.rpm');
  });
});
