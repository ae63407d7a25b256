import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import {
  MAX_REPOMD_BYTES,
  MAX_REPOMD_DATA_ENTRIES,
  MAX_REPOMD_SIGNATURE_LENGTH,
  parseRepomd,
  verifyRepomdSignature,
} from '../../dispvm-worker/repomd.ts';
import { VerificationError } from '../../protocol/errors.ts';
import { expectCode } from '../helpers/expect-error.ts';
import { dataEntry, repomdXml } from '../helpers/rpm-md-documents.ts';
import { ParseError as ParseErrorClass } from '../../protocol/errors.ts';
import { mutants } from '../helpers/mutate.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('parseRepomd on generated documents', () => {
  it('reads a createrepo_c-shaped document', () => {
    const repomd = parseRepomd(
      enc(
        repomdXml([
          dataEntry({ openChecksum: 'e'.repeat(64), openSize: 456 }),
          dataEntry({ type: 'filelists' }),
        ]),
      ),
    );
    expect(repomd.revision).toBe('1700000000');
    expect(repomd.data[0]).toEqual({
      type: 'primary',
      locationHref: `repodata/${'a'.repeat(64)}-primary.xml.gz`,
      checksum: { type: 'sha256', value: 'a'.repeat(64) },
      openChecksum: { type: 'sha256', value: 'e'.repeat(64) },
      size: 123,
      openSize: 456,
      timestamp: 1700000000,
    });
    expect(repomd.data.map((d) => d.type)).toEqual(['primary', 'filelists']);
  });

  it('accepts an absolute https location only when allowed', async () => {
    const doc = enc(repomdXml([dataEntry({ href: 'https://cdn.example/repodata/p.xml.gz' })]));
    await expectCode(() => parseRepomd(doc), 'repomd.href');
    expect(parseRepomd(doc, { allowAbsoluteHrefs: true }).data[0]!.locationHref).toBe(
      'https://cdn.example/repodata/p.xml.gz',
    );
  });
});

describe('parseRepomd refuses hostile documents', () => {
  const entities = '<!DOCTYPE repomd [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>';
  const cases: [string, string, string][] = [
    ['billion laughs DOCTYPE', repomdXml([dataEntry({ type: '&b;' })], entities), 'xml.doctype'],
    [
      'ENTITY without DOCTYPE',
      repomdXml([dataEntry()]).replace('<repomd', '<!ENTITY x "y"><repomd'),
      'xml.entity',
    ],
    ['wrong root', '<metadata/>', 'repomd.root'],
    ['unknown top-level element', repomdXml([dataEntry(), '<evil/>']), 'repomd.unknown-element'],
    ['unknown data child', repomdXml([dataEntry({ extra: '<evil/>' })]), 'repomd.unknown-element'],
    ['duplicate data type', repomdXml([dataEntry(), dataEntry()]), 'repomd.duplicate'],
    ['two revisions', repomdXml([dataEntry(), '<revision>2</revision>']), 'repomd.duplicate'],
    [
      'two checksums',
      repomdXml([dataEntry({ extra: `<checksum type="sha256">${'f'.repeat(64)}</checksum>` })]),
      'repomd.duplicate',
    ],
    ['missing location', repomdXml([dataEntry().replace(/<location[^>]*\/>/, '')]), 'repomd.missing'],
    [
      'missing checksum',
      repomdXml([dataEntry().replace(/<checksum[^<]*<\/checksum>/, '')]),
      'repomd.missing',
    ],
    ['bad data type', repomdXml([dataEntry({ type: '../x' })]), 'repomd.type'],
    ['parent traversal', repomdXml([dataEntry({ href: '../../../etc/passwd' })]), 'repomd.href'],
    ['inner traversal', repomdXml([dataEntry({ href: 'repodata/../../x.xml.gz' })]), 'repomd.href'],
    ['absolute path', repomdXml([dataEntry({ href: '/etc/passwd' })]), 'repomd.href'],
    ['absolute URL', repomdXml([dataEntry({ href: 'https://evil.example/p.xml.gz' })]), 'repomd.href'],
    ['file URL', repomdXml([dataEntry({ href: 'file:///etc/passwd' })]), 'repomd.href'],
    [
      'percent-encoded traversal',
      repomdXml([dataEntry({ href: 'repodata/%2e%2e/%2e%2e/x' })]),
      'repomd.href',
    ],
    ['backslash', repomdXml([dataEntry({ href: 'repodata\\..\\x' })]), 'repomd.href'],
    ['empty href', repomdXml([dataEntry({ href: '' })]), 'repomd.href'],
    [
      'xml:base',
      repomdXml([dataEntry().replace('<location ', '<location xml:base="https://evil.example/" ')]),
      'repomd.href',
    ],
    [
      'sha1 checksum',
      repomdXml([dataEntry({ checksumType: 'sha1', checksum: 'a'.repeat(40) })]),
      'repomd.checksum-type',
    ],
    [
      'sha checksum',
      repomdXml([dataEntry({ checksumType: 'sha', checksum: 'a'.repeat(40) })]),
      'repomd.checksum-type',
    ],
    [
      'md5 checksum',
      repomdXml([dataEntry({ checksumType: 'md5', checksum: 'a'.repeat(32) })]),
      'repomd.checksum-type',
    ],
    ['short checksum', repomdXml([dataEntry({ checksum: 'a'.repeat(63) })]), 'repomd.checksum-value'],
    ['non-hex checksum', repomdXml([dataEntry({ checksum: 'g'.repeat(64) })]), 'repomd.checksum-value'],
    ['negative size', repomdXml([dataEntry({ size: '-1' })]), 'repomd.number'],
    ['huge size', repomdXml([dataEntry({ size: '9'.repeat(30) })]), 'repomd.number'],
    ['fractional open-size', repomdXml([dataEntry({ openSize: '1.5' })]), 'repomd.number'],
    [
      'too many data entries',
      repomdXml(Array.from({ length: MAX_REPOMD_DATA_ENTRIES + 1 }, (_, i) => dataEntry({ type: `t${i}` }))),
      'repomd.data-count',
    ],
  ];
  it.each(cases)('%s', async (_name, doc, code) => {
    await expectCode(() => parseRepomd(enc(doc)), code);
  });

  it('refuses documents above the size limit before parsing them', async () => {
    const doc = repomdXml([dataEntry()]).replace(
      '</repomd>',
      `<!--${'x'.repeat(MAX_REPOMD_BYTES)}--></repomd>`,
    );
    await expectCode(() => parseRepomd(enc(doc)), 'repomd.too-large');
  });
});

describe('verifyRepomdSignature refuses what it cannot check', () => {
  const doc = enc(repomdXml());
  it('needs keys', async () => {
    await expectCode(
      () => verifyRepomdSignature(doc, 'x', []),
      'repomd.signature.no-keys',
      VerificationError,
    );
  });
  it('refuses garbage and oversized armour', async () => {
    const { publicKey } = await openpgp.generateKey({
      userIDs: [{ name: 't' }],
      type: 'ecc',
      format: 'object',
    });
    await expectCode(
      () =>
        verifyRepomdSignature(doc, '-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n', [
          publicKey,
        ]),
      'repomd.signature.malformed',
      VerificationError,
    );
    await expectCode(
      () => verifyRepomdSignature(doc, 'x'.repeat(MAX_REPOMD_SIGNATURE_LENGTH + 1), [publicKey]),
      'repomd.signature.malformed',
      VerificationError,
    );
  });
  it('refuses a valid signature over other bytes, and one by an untrusted key', async () => {
    const signer = await openpgp.generateKey({ userIDs: [{ name: 's' }], type: 'ecc', format: 'object' });
    const stranger = await openpgp.generateKey({ userIDs: [{ name: 'x' }], type: 'ecc', format: 'object' });
    const signature = await openpgp.sign({
      message: await openpgp.createMessage({ binary: doc }),
      signingKeys: signer.privateKey,
      detached: true,
    });
    await expect(verifyRepomdSignature(doc, signature, [signer.publicKey])).resolves.toBeUndefined();
    const other = enc(repomdXml([dataEntry({ checksum: 'f'.repeat(64) })]));
    await expectCode(
      () => verifyRepomdSignature(other, signature, [signer.publicKey]),
      'repomd.signature.bad',
      VerificationError,
    );
    await expectCode(
      () => verifyRepomdSignature(doc, signature, [stranger.publicKey]),
      'repomd.signature.unknown-key',
      VerificationError,
    );
  });
});

describe('parseRepomd on seeded mutations of a valid document', () => {
  it('accepts or refuses each with a repomd.* or xml.* ParseError, never anything else', () => {
    const valid = enc(
      repomdXml([dataEntry({ openChecksum: 'e'.repeat(64), openSize: 456 }), dataEntry({ type: 'other' })]),
    );
    let refused = 0;
    for (const [n, mutant] of mutants(valid, 1500, 0x5eed)) {
      try {
        parseRepomd(mutant);
      } catch (e) {
        expect(e, `mutant ${n}`).toBeInstanceOf(ParseErrorClass);
        expect((e as ParseErrorClass).code, `mutant ${n}`).toMatch(/^(repomd|xml)\./);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(500);
  });
});
