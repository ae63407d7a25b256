import { beforeAll, describe, expect, it } from 'vitest';
import {
  forgeRepository,
  generateSigningKey,
  signDetachedArmored,
  type SigningKey,
} from '../../../sim/forge/index.ts';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import {
  extractRepomdVersion,
  verifyRepomdEvidence,
  MAX_REPOMD_TIMESTAMPS,
} from '../../../orchestrator/repos/repomd-evidence.ts';
import { MAX_REPOMD_EVIDENCE_BYTES } from '../../../protocol/limits.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function repomd(revision: string, timestamps: string[] = ['100', '300', '200']): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">',
    `  <revision>${revision}</revision>`,
    ...timestamps.map(
      (t, i) =>
        `  <data type="t${i}"><location href="repodata/x${i}.xml.gz"/><timestamp>${t}</timestamp></data>`,
    ),
    '</repomd>',
    '',
  ].join('\n');
}

describe('extractRepomdVersion', () => {
  it('reads the revision and the newest data timestamp', () => {
    expect(extractRepomdVersion(enc(repomd('1717000000')))).toEqual({
      revision: 1717000000n,
      timestamp: 300,
    });
  });

  it('reads a 20-digit revision exactly and no timestamp when there is none', () => {
    expect(extractRepomdVersion(enc(repomd('18446744073709551615', [])))).toEqual({
      revision: 18446744073709551615n,
      timestamp: undefined,
    });
  });

  it('reads what createrepo-style metadata from the forge holds', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-repomd-ev-'));
    try {
      const forged = await forgeRepository({ dir, packages: [], revision: 1234567 });
      expect(extractRepomdVersion(await readFile(forged.repomdPath))).toEqual({
        revision: 1234567n,
        timestamp: 1234567,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['no revision', repomd('1').replace(/ *<revision>1<\/revision>\n/, '')],
    [
      'two revisions',
      repomd('1').replace('<revision>1</revision>', '<revision>1</revision><revision>9</revision>'),
    ],
    ['a revision with spaces', repomd(' 1 ')],
    ['a revision that is not a number', repomd('v1.2')],
    ['a negative revision', repomd('-1')],
    ['a 21-digit revision', repomd('123456789012345678901')],
    ['a revision with an attribute', repomd('1').replace('<revision>', '<revision x="9">')],
    ['a prefixed revision', repomd('1').replace('</repomd>', '<r:revision>9</r:revision></repomd>')],
    [
      'a revision hidden in a comment',
      repomd('1').replace('</repomd>', '<!-- <revision>9</revision> --></repomd>'),
    ],
    ['a CDATA section', repomd('1').replace('</repomd>', '<![CDATA[x]]></repomd>')],
    ['a DOCTYPE', repomd('1').replace('<repomd ', '<!DOCTYPE repomd [<!ENTITY r "9">]>\n<repomd ')],
    ['a processing instruction', repomd('1').replace('</repomd>', '<?pi x?></repomd>')],
    ['a timestamp that is not a number', repomd('1', ['100', 'soon'])],
    ['a timestamp with 16 digits', repomd('1', ['1234567890123456'])],
    ['a prefixed timestamp', repomd('1').replace('</repomd>', '<x:timestamp>9</x:timestamp></repomd>')],
    [
      'too many timestamps',
      repomd(
        '1',
        Array.from({ length: MAX_REPOMD_TIMESTAMPS + 1 }, () => '1'),
      ),
    ],
  ])('refuses %s (metadata.revision)', (_, text) => {
    expect(() => extractRepomdVersion(enc(text))).toThrow(
      expect.objectContaining({ code: 'metadata.revision' }),
    );
  });

  it('refuses more than MAX_REPOMD_EVIDENCE_BYTES', () => {
    const big = enc(repomd('1') + ' '.repeat(MAX_REPOMD_EVIDENCE_BYTES));
    expect(() => extractRepomdVersion(big)).toThrow(expect.objectContaining({ code: 'metadata.revision' }));
  });
});

describe('verifyRepomdEvidence', () => {
  let key: SigningKey;
  let other: SigningKey;
  let keys: openpgp.PublicKey[];
  const bytes = enc(repomd('42'));
  const signedAt = new Date('2026-06-01T00:00:00Z');

  beforeAll(async () => {
    const created = new Date('2025-01-01T00:00:00Z');
    key = await generateSigningKey('Repo', { date: created });
    other = await generateSigningKey('Other', { date: created });
    keys = [await openpgp.readKey({ armoredKey: key.publicKeyArmored })];
  });

  it('takes the revision from the signed bytes and the time from the verified signature', async () => {
    const signature = await signDetachedArmored(key, bytes, signedAt);
    await expect(
      verifyRepomdEvidence({ repoid: 'r', repomd: b64(bytes), signature }, true, keys),
    ).resolves.toEqual({
      revision: 42n,
      timestamp: 300,
      signedAt: signedAt.getTime() / 1000,
    });
  });

  it('refuses bytes the signature does not cover (metadata.signature)', async () => {
    const signature = await signDetachedArmored(key, bytes, signedAt);
    const forged = enc(repomd('43'));
    await expect(
      verifyRepomdEvidence({ repoid: 'r', repomd: b64(forged), signature }, true, keys),
    ).rejects.toMatchObject({ code: 'metadata.signature' });
  });

  it('refuses a signature by a key the repository does not name (metadata.signature)', async () => {
    const signature = await signDetachedArmored(other, bytes, signedAt);
    await expect(
      verifyRepomdEvidence({ repoid: 'r', repomd: b64(bytes), signature }, true, keys),
    ).rejects.toMatchObject({ code: 'metadata.signature' });
  });

  it('refuses a missing signature, garbage, or no keys (metadata.signature)', async () => {
    const signature = await signDetachedArmored(key, bytes, signedAt);
    for (const [sig, k] of [
      [null, keys],
      ['-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n', keys],
      [signature, []],
    ] as const) {
      await expect(
        verifyRepomdEvidence({ repoid: 'r', repomd: b64(bytes), signature: sig }, true, k),
      ).rejects.toMatchObject({ code: 'metadata.signature' });
    }
  });

  it('refuses non-canonical base64 (metadata.evidence)', async () => {
    const signature = await signDetachedArmored(key, bytes, signedAt);
    // 'QR==' decodes like 'QQ==' but is not what the bytes encode to.
    await expect(
      verifyRepomdEvidence({ repoid: 'r', repomd: 'QR==', signature }, true, keys),
    ).rejects.toMatchObject({ code: 'metadata.evidence' });
  });

  it('reads nothing from an unsigned repository, and refuses a signature sent for one', async () => {
    await expect(
      verifyRepomdEvidence({ repoid: 'r', repomd: b64(bytes), signature: null }, false, keys),
    ).resolves.toBe(undefined);
    const signature = await signDetachedArmored(key, bytes, signedAt);
    await expect(
      verifyRepomdEvidence({ repoid: 'r', repomd: b64(bytes), signature }, false, keys),
    ).rejects.toMatchObject({ code: 'metadata.evidence' });
  });
});
