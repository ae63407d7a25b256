import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkRepomdAgainstMetalink, parseMetalink } from '../../dispvm-worker/metalink.ts';
import { VerificationError } from '../../protocol/errors.ts';
import { expectCode } from '../helpers/expect-error.ts';
import { metalinkXml, repomdXml, sha256 } from '../helpers/rpm-md-documents.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const repomd = enc(repomdXml());
const sha512 = (b: Uint8Array): string => createHash('sha512').update(b).digest('hex');
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

describe('parseMetalink', () => {
  it('returns http(s) mirrors by preference and the announced hashes', () => {
    const metalink = parseMetalink(
      enc(
        metalinkXml({
          size: repomd.length,
          hashes: { md5: md5(repomd), sha256: sha256(repomd), sha512: sha512(repomd) },
          alternates: [{ hashes: { sha256: 'e'.repeat(64) }, size: 10 }],
          urls: [
            {
              url: 'http://b.example/r4.2/templates-itl/repodata/repomd.xml',
              preference: '50',
              location: 'DE',
            },
            {
              url: 'rsync://c.example/r4.2/templates-itl/repodata/repomd.xml',
              protocol: 'rsync',
              preference: '100',
            },
            { url: 'https://a.example/r4.2/templates-itl/repodata/repomd.xml', preference: '100' },
            { url: 'https://d.example/r4.2/templates-itl/repodata/repomd.xml', preference: '50' },
            { url: 'ftp://e.example/repodata/repomd.xml', protocol: 'https' },
            { url: 'https://f.example/other/path.xml' },
          ],
        }),
      ),
    );
    expect(metalink.mirrors).toEqual([
      {
        url: 'https://a.example/r4.2/templates-itl/repodata/repomd.xml',
        baseUrl: 'https://a.example/r4.2/templates-itl/',
        protocol: 'https',
        preference: 100,
      },
      {
        url: 'http://b.example/r4.2/templates-itl/repodata/repomd.xml',
        baseUrl: 'http://b.example/r4.2/templates-itl/',
        protocol: 'http',
        preference: 50,
        location: 'DE',
      },
      {
        url: 'https://d.example/r4.2/templates-itl/repodata/repomd.xml',
        baseUrl: 'https://d.example/r4.2/templates-itl/',
        protocol: 'https',
        preference: 50,
      },
    ]);
    expect(metalink.repomd).toEqual({
      size: repomd.length,
      timestamp: 1700000000,
      hashes: [
        { type: 'md5', value: md5(repomd) },
        { type: 'sha256', value: sha256(repomd) },
        { type: 'sha512', value: sha512(repomd) },
      ],
    });
    expect(metalink.alternates).toEqual([
      { size: 10, timestamp: 1690000000, hashes: [{ type: 'sha256', value: 'e'.repeat(64) }] },
    ]);
    expect(checkRepomdAgainstMetalink(repomd, metalink)).toBe(metalink.repomd);
  });

  it('accepts a repomd.xml that matches an alternate (a mirror one revision behind)', () => {
    const old = enc(repomdXml().replace('1700000000', '1690000000'));
    const metalink = parseMetalink(
      enc(
        metalinkXml({
          hashes: { sha256: sha256(repomd) },
          alternates: [{ hashes: { sha256: sha256(old) } }],
        }),
      ),
    );
    expect(checkRepomdAgainstMetalink(old, metalink)).toBe(metalink.alternates[0]);
  });
});

describe('checkRepomdAgainstMetalink refuses', () => {
  it('a repomd.xml matching no announced hash', async () => {
    const metalink = parseMetalink(enc(metalinkXml({ hashes: { sha256: sha256('other') } })));
    await expectCode(
      () => checkRepomdAgainstMetalink(repomd, metalink),
      'metalink.hash-mismatch',
      VerificationError,
    );
  });
  it('a matching sha256 when the sha512 (the strongest announced) differs', async () => {
    const metalink = parseMetalink(
      enc(metalinkXml({ hashes: { sha256: sha256(repomd), sha512: 'f'.repeat(128) } })),
    );
    await expectCode(
      () => checkRepomdAgainstMetalink(repomd, metalink),
      'metalink.hash-mismatch',
      VerificationError,
    );
  });
  it('a size that differs', async () => {
    const metalink = parseMetalink(
      enc(metalinkXml({ hashes: { sha256: sha256(repomd) }, size: repomd.length + 1 })),
    );
    await expectCode(
      () => checkRepomdAgainstMetalink(repomd, metalink),
      'metalink.hash-mismatch',
      VerificationError,
    );
  });
  it('a metalink announcing only md5 and sha1', async () => {
    const metalink = parseMetalink(
      enc(
        metalinkXml({ hashes: { md5: md5(repomd), sha1: createHash('sha1').update(repomd).digest('hex') } }),
      ),
    );
    await expectCode(
      () => checkRepomdAgainstMetalink(repomd, metalink),
      'metalink.no-strong-hash',
      VerificationError,
    );
  });
});
