import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { decompressMetadata, detectCompression } from '../../dispvm-worker/metadata-decompress.ts';
import {
  MAX_PRIMARY_COMPRESSED_BYTES,
  MAX_PRIMARY_FIELD_LENGTH,
  parsePrimaryXml,
  readPrimary,
  type PrimarySkip,
} from '../../dispvm-worker/primary.ts';
import type { RepomdData } from '../../dispvm-worker/repomd.ts';
import { expectCode } from '../helpers/expect-error.ts';
import { packageXml, primaryXml, sha256 } from '../helpers/rpm-md-documents.ts';
import { ParseError } from '../../protocol/errors.ts';
import { mutants } from '../helpers/mutate.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function entryFor(file: Uint8Array, xml?: Uint8Array): RepomdData {
  return {
    type: 'primary',
    locationHref: 'repodata/p.xml.gz',
    checksum: { type: 'sha256', value: sha256(file) },
    size: file.length,
    ...(xml !== undefined
      ? { openChecksum: { type: 'sha256', value: sha256(xml) }, openSize: xml.length }
      : {}),
  };
}

async function compress(tool: 'gzip' | 'xz' | 'zstd', data: Uint8Array): Promise<Buffer> {
  const { stdout } = await execa(tool, ['-c', '-q'], { input: data, encoding: 'buffer' });
  return Buffer.from(stdout);
}

describe('parsePrimaryXml on generated documents', () => {
  it('keeps only template packages, with every field', () => {
    const xml = primaryXml([
      packageXml({ name: 'kernel' }),
      packageXml({ epoch: '3', description: 'a &amp; b\n  c', license: 'GPLv2+ and MIT' }),
      packageXml({ name: 'qubes-template-debian-12', epoch: null, url: '' }),
    ]);
    const packages = parsePrimaryXml(enc(xml), 'qubes-templates-itl');
    expect(packages).toEqual([
      {
        name: 'qubes-template-fedora-41',
        epoch: 3,
        version: '4.2.0',
        release: '202501010000',
        arch: 'noarch',
        repoid: 'qubes-templates-itl',
        downloadsize: 1234,
        buildtime: 1700000001,
        license: 'GPLv2+ and MIT',
        url: 'https://www.qubes-os.org/',
        summary: 'A template',
        description: 'a & b\n  c',
        locationHref: 'qubes-template-fedora-41-4.2.0-202501010000.noarch.rpm',
        checksum: { type: 'sha256', value: 'b'.repeat(64) },
      },
      expect.objectContaining({ name: 'qubes-template-debian-12', epoch: 0, url: '' }),
    ]);
  });

  it('accepts absolute package locations and xml:base only when allowed', () => {
    const xml = enc(primaryXml([packageXml({ locationExtra: ' xml:base="https://mirror.example/pub/"' })]));
    const skipped: PrimarySkip[] = [];
    expect(parsePrimaryXml(xml, 'r', { onSkip: (s) => skipped.push(s) })).toEqual([]);
    expect(skipped.map((s) => s.code)).toEqual(['primary.href']);
    expect(parsePrimaryXml(xml, 'r', { allowAbsoluteHrefs: true })[0]!.locationBase).toBe(
      'https://mirror.example/pub/',
    );
  });
});

describe('parsePrimaryXml refuses hostile documents', () => {
  const laughs =
    '<!DOCTYPE metadata [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>';
  const cases: [string, string, string][] = [
    [
      'billion laughs',
      primaryXml([packageXml({ description: '&c;' })]).replace('<metadata', `${laughs}<metadata`),
      'xml.doctype',
    ],
    [
      'entity declaration',
      primaryXml([packageXml()]).replace('<metadata', '<!ENTITY x SYSTEM "file:///etc/shadow"><metadata'),
      'xml.entity',
    ],
    ['undeclared entity', primaryXml([packageXml({ summary: '&x;' })]), 'xml.reference'],
    ['wrong root', '<repomd/>', 'primary.root'],
    ['non-package child', primaryXml([packageXml(), '<evil/>'], 1), 'primary.unknown-element'],
    ['source package type', primaryXml([packageXml({ type: 'srpm' })]), 'primary.package-type'],
    ['package count lies', primaryXml([packageXml()], 2), 'primary.package-count'],
  ];
  it.each(cases)('%s', async (_name, doc, code) => {
    await expectCode(() => parsePrimaryXml(enc(doc), 'r'), code);
  });
});

describe('parsePrimaryXml skips a template entry that breaks a rule, and keeps the others', () => {
  const cases: [string, string, string][] = [
    ['two names', packageXml({ extra: '<name>qubes-template-evil</name>' }), 'primary.duplicate'],
    ['two locations', packageXml({ extra: '<location href="x.rpm"/>' }), 'primary.duplicate'],
    ['two licenses', packageXml({ license: 'MIT</rpm:license><rpm:license>GPL' }), 'primary.duplicate'],
    ['element inside a text field', packageXml({ summary: '<b>bold</b>' }), 'primary.unknown-element'],
    ['missing location', packageXml().replace(/<location[^>]*\/>/, ''), 'primary.missing'],
    ['missing version', packageXml().replace(/<version[^>]*\/>/, ''), 'primary.missing'],
    ['bad name', packageXml({ name: 'qubes-template-a/b' }), 'primary.name'],
    ['bad arch', packageXml({ arch: 'no arch' }), 'primary.arch'],
    ['bad epoch', packageXml({ epoch: '-1' }), 'primary.number'],
    ['epoch out of range', packageXml({ epoch: '4294967296' }), 'primary.evr'],
    ['dash in version', packageXml({ ver: '4.2-0' }), 'primary.evr'],
    ['empty release', packageXml({ rel: '' }), 'primary.evr'],
    ['non-numeric size', packageXml({ size: '12k' }), 'primary.number'],
    ['huge build time', packageXml({ build: '9'.repeat(20) }), 'primary.number'],
    [
      'sha1 package checksum',
      packageXml({ checksumType: 'sha1', checksum: 'b'.repeat(40) }),
      'primary.checksum-type',
    ],
    [
      'md5 package checksum',
      packageXml({ checksumType: 'md5', checksum: 'b'.repeat(32) }),
      'primary.checksum-type',
    ],
    ['short package checksum', packageXml({ checksum: 'b'.repeat(10) }), 'primary.checksum-value'],
    ['traversal href', packageXml({ href: '../../../../etc/passwd' }), 'primary.href'],
    ['absolute path href', packageXml({ href: '/etc/passwd' }), 'primary.href'],
    ['absolute URL href', packageXml({ href: 'https://evil.example/x.rpm' }), 'primary.href'],
    [
      'field too long',
      packageXml({ summary: 'x'.repeat(MAX_PRIMARY_FIELD_LENGTH + 1) }),
      'primary.field-too-long',
    ],
  ];

  it.each(cases)('%s', (_name, bad, code) => {
    const skipped: PrimarySkip[] = [];
    const doc = primaryXml([
      packageXml({ name: 'qubes-template-good-1' }),
      bad,
      packageXml({ name: 'qubes-template-good-2' }),
    ]);
    const packages = parsePrimaryXml(enc(doc), 'r', { onSkip: (skip) => skipped.push(skip) });
    expect(packages.map((p) => p.name)).toEqual(['qubes-template-good-1', 'qubes-template-good-2']);
    expect(skipped.map((skip) => skip.code)).toEqual([code]);
    expect(skipped[0]!.offset).toBe(doc.indexOf(bad));
  });

  it('ignores non-template packages whatever their fields, without a warning', () => {
    const skipped: PrimarySkip[] = [];
    const doc = primaryXml([
      packageXml({ name: 'kernel' }).replace(/<location[^>]*\/>/, ''),
      packageXml({ name: 'kernel-core', ver: '1-2' }),
      packageXml(),
    ]);
    const packages = parsePrimaryXml(enc(doc), 'r', { onSkip: (skip) => skipped.push(skip) });
    expect(packages.map((p) => p.name)).toEqual(['qubes-template-fedora-41']);
    expect(skipped).toEqual([]);
  });

  it('still refuses the document for a structural error after a skipped entry', async () => {
    const doc = primaryXml([packageXml({ ver: 'v'.repeat(200) }), packageXml(), '<evil/>'], 2);
    await expectCode(() => parsePrimaryXml(enc(doc), 'r', { onSkip: () => {} }), 'primary.unknown-element');
  });
});

describe('readPrimary checks what repomd.xml declares', () => {
  const xml = enc(primaryXml([packageXml(), packageXml({ rel: '2' })]));

  it('reads gzip, xz, zstd and plain files, checking checksum and open-checksum', async () => {
    const expected = parsePrimaryXml(xml, 'r');
    for (const tool of ['gzip', 'xz', 'zstd'] as const) {
      const file = await compress(tool, xml);
      expect(detectCompression(file, 'primary')).toBe(tool);
      expect(await readPrimary(file, entryFor(file, xml), 'r')).toEqual(expected);
    }
    expect(await readPrimary(xml, entryFor(xml, xml), 'r')).toEqual(expected);
  });

  it('refuses a file whose checksum or size differs from repomd.xml', async () => {
    const file = gzipSync(xml);
    const entry = entryFor(file, xml);
    await expectCode(
      () => readPrimary(file, { ...entry, checksum: { type: 'sha256', value: sha256('other') } }, 'r'),
      'primary.checksum',
    );
    await expectCode(() => readPrimary(file, { ...entry, size: file.length + 1 }, 'r'), 'primary.size');
    await expectCode(
      () => readPrimary(file, { ...entry, openSize: xml.length - 1 }, 'r'),
      'primary.open-size',
    );
    await expectCode(
      () => readPrimary(file, { ...entry, openChecksum: { type: 'sha256', value: sha256('other') } }, 'r'),
      'primary.open-checksum',
    );
    const flipped = Buffer.from(file);
    flipped[flipped.length - 20]! ^= 0xff;
    await expectCode(() => readPrimary(flipped, entry, 'r'), 'primary.checksum');
  });

  it('refuses truncated and corrupt compressed data even when the checksum matches it', async () => {
    for (const tool of ['gzip', 'xz', 'zstd'] as const) {
      const file = await compress(tool, xml);
      for (const cut of [file.length - 1, Math.floor(file.length / 2), 8]) {
        const truncated = file.subarray(0, cut);
        await expectCode(() => readPrimary(truncated, entryFor(truncated), 'r'), 'primary.decompress');
      }
      const trailing = Buffer.concat([file, Buffer.from('trailing garbage')]);
      await expectCode(() => readPrimary(trailing, entryFor(trailing), 'r'), 'primary.decompress');
    }
  });

  it('refuses unknown compression', async () => {
    const bzip = Buffer.from('BZh91AY&SY' + 'x'.repeat(20));
    await expectCode(() => readPrimary(bzip, entryFor(bzip), 'r'), 'primary.compression');
  });

  it('stops decompression bombs at the limit, for every codec', async () => {
    const zeros = new Uint8Array(8 * 1024 * 1024);
    for (const tool of ['gzip', 'xz', 'zstd'] as const) {
      const bomb = await compress(tool, zeros);
      expect(bomb.length).toBeLessThan(1024 * 1024);
      await expectCode(() => decompressMetadata(bomb, 1024 * 1024, 'primary'), 'primary.too-large');
    }
  });

  it('refuses a compressed file above the size limit before hashing it', async () => {
    const big = new Uint8Array(MAX_PRIMARY_COMPRESSED_BYTES + 1);
    await expectCode(() => readPrimary(big, entryFor(new Uint8Array(1)), 'r'), 'primary.too-large');
  });
});

describe('parsePrimaryXml on seeded mutations of a valid document', () => {
  it('accepts or refuses each with a primary.* or xml.* ParseError, never anything else', () => {
    const valid = enc(primaryXml([packageXml({ description: 'a &amp; b' }), packageXml({ name: 'kernel' })]));
    let refused = 0;
    for (const [n, mutant] of mutants(valid, 1500, 0xc0ffee)) {
      try {
        parsePrimaryXml(mutant, 'r');
      } catch (e) {
        expect(e, `mutant ${n}`).toBeInstanceOf(ParseError);
        expect((e as ParseError).code, `mutant ${n}`).toMatch(/^(primary|xml)\./);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(500);
  });
});
