import { describe, expect, it } from 'vitest';
import { MAX_METALINK_BYTES, MAX_METALINK_URLS, parseMetalink } from '../../dispvm-worker/metalink.ts';
import { expectCode } from '../helpers/expect-error.ts';
import { metalinkXml } from '../helpers/rpm-md-documents.ts';

import { ParseError } from '../../protocol/errors.ts';
import { mutants } from '../helpers/mutate.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('parseMetalink refuses hostile documents', () => {
  const laughs = '<!DOCTYPE metalink [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>';
  const cases: [string, string, string][] = [
    ['billion laughs', metalinkXml().replace('<metalink', `${laughs}<metalink`), 'xml.doctype'],
    ['entity declaration', metalinkXml().replace('<metalink', '<!ENTITY x "y"><metalink'), 'xml.entity'],
    [
      'entity in a URL',
      metalinkXml({ urls: [{ url: 'https://a.example/&b;/repodata/repomd.xml' }] }),
      'xml.reference',
    ],
    ['wrong root', '<repomd/>', 'metalink.root'],
    ['no repomd.xml file', metalinkXml({ fileName: 'other.xml' }), 'metalink.no-file'],
    ['two repomd.xml files', metalinkXml({ extraFile: '<file name="repomd.xml"/>' }), 'metalink.duplicate'],
    [
      'two hashes of one type',
      metalinkXml({ hashes: { sha256: 'd'.repeat(64) } }).replace(
        '</verification>',
        `<hash type="sha256">${'e'.repeat(64)}</hash></verification>`,
      ),
      'metalink.duplicate',
    ],
    ['non-hex hash', metalinkXml({ hashes: { sha256: 'z'.repeat(64) } }), 'metalink.hash'],
    ['sha256 of the wrong length', metalinkXml({ hashes: { sha256: 'd'.repeat(128) } }), 'metalink.hash'],
    ['hash without type', metalinkXml().replace('<hash type="md5">', '<hash>'), 'metalink.hash'],
    [
      'preference above 100',
      metalinkXml({ urls: [{ url: 'https://a.example/repodata/repomd.xml', preference: '1000' }] }),
      'metalink.number',
    ],
    [
      'negative preference',
      metalinkXml({ urls: [{ url: 'https://a.example/repodata/repomd.xml', preference: '-1' }] }),
      'metalink.number',
    ],
    ['bad size', metalinkXml({ size: -1 }), 'metalink.number'],
    [
      'too many URLs',
      metalinkXml({
        urls: Array.from({ length: MAX_METALINK_URLS + 1 }, (_, i) => ({
          url: `https://m${i}.example/repodata/repomd.xml`,
        })),
      }),
      'metalink.url-count',
    ],
  ];
  it.each(cases)('%s', async (_name, doc, code) => {
    await expectCode(() => parseMetalink(enc(doc)), code);
  });

  it('refuses documents above the size limit', async () => {
    await expectCode(() => parseMetalink(new Uint8Array(MAX_METALINK_BYTES + 1)), 'metalink.too-large');
  });
});

describe('parseMetalink on seeded mutations of a valid document', () => {
  it('accepts or refuses each with a metalink.* or xml.* ParseError, never anything else', () => {
    const valid = enc(
      metalinkXml({
        alternates: [{ hashes: { sha256: 'e'.repeat(64) }, size: 10 }],
        urls: [
          { url: 'https://a.example/repodata/repomd.xml' },
          { url: 'http://b.example/repodata/repomd.xml', preference: '7' },
        ],
      }),
    );
    let refused = 0;
    for (const [n, mutant] of mutants(valid, 1500, 0xbeef)) {
      try {
        parseMetalink(mutant);
      } catch (e) {
        expect(e, `mutant ${n}`).toBeInstanceOf(ParseError);
        expect((e as ParseError).code, `mutant ${n}`).toMatch(/^(metalink|xml)\./);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(300);
  });
});
