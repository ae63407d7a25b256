import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decideFreshness, type FreshnessPolicy } from '../../../orchestrator/repos/metadata-freshness.ts';
import { readRepoMetadataState, writeRepoMetadataState } from '../../../orchestrator/repos/metadata-state.ts';
import { parseRepoFile, type RepoDefinition } from '../../../orchestrator/repos/repo-config.ts';
import { checkRepoMetadata, prepareMetadataCheck } from '../../../orchestrator/repos/metadata-check.ts';
import type { RepomdEvidence } from '../../../protocol/messages.ts';
import { generateSigningKey, signDetachedArmored, type SigningKey } from '../../../sim/forge/index.ts';

const DAY = 86400;
const NOW = 1_780_000_000;
const WARN: FreshnessPolicy = { maxAge: 14 * DAY, action: 'warn' };
const STRICT: FreshnessPolicy = { maxAge: 14 * DAY, action: 'refuse' };
const at = (revision: bigint, timestamp: number | undefined, signedAt = NOW - DAY) => ({
  revision,
  timestamp,
  signedAt,
});

describe('decideFreshness', () => {
  it('accepts the first metadata seen and records it', () => {
    const d = decideFreshness('r', undefined, at(5n, 50), WARN, NOW);
    expect(d).toEqual({ record: at(5n, 50), changed: true, warnings: [] });
  });

  it('refuses an older revision (metadata.rollback), whatever its timestamps and signature time', () => {
    expect(() => decideFreshness('r', at(5n, 50), at(4n, 99, NOW), WARN, NOW)).toThrow(
      expect.objectContaining({ code: 'metadata.rollback' }),
    );
  });

  it('refuses the same revision with older data timestamps (metadata.rollback)', () => {
    expect(() => decideFreshness('r', at(5n, 50), at(5n, 49), WARN, NOW)).toThrow(
      expect.objectContaining({ code: 'metadata.rollback' }),
    );
  });

  it('accepts the same metadata without a change, or keeps a newer signature time', () => {
    expect(decideFreshness('r', at(5n, 50), at(5n, 50), WARN, NOW)).toMatchObject({
      changed: false,
      warnings: [],
    });
    const resigned = decideFreshness('r', at(5n, 50, NOW - 3 * DAY), at(5n, 50, NOW - DAY), WARN, NOW);
    expect(resigned).toMatchObject({ changed: true, record: at(5n, 50, NOW - DAY) });
    const older = decideFreshness('r', at(5n, 50, NOW - DAY), at(5n, 50, NOW - 3 * DAY), WARN, NOW);
    expect(older).toMatchObject({ changed: false, record: at(5n, 50, NOW - DAY) });
  });

  it('moves to a newer revision, even with older data timestamps', () => {
    const d = decideFreshness('r', at(5n, 50), at(6n, 10), WARN, NOW);
    expect(d).toMatchObject({ changed: true, record: at(6n, 10) });
  });

  it('warns about a signature older than metadata_max_age, and refuses it when strict', () => {
    const old = at(6n, 10, NOW - 15 * DAY);
    const d = decideFreshness('r', at(5n, 50), old, WARN, NOW);
    expect(d.warnings).toEqual([
      { code: 'metadata.max-age', repoid: 'r', message: expect.any(String) as string },
    ]);
    expect(d).toMatchObject({ changed: true, record: old });
    expect(() => decideFreshness('r', at(5n, 50), old, STRICT, NOW)).toThrow(
      expect.objectContaining({ code: 'metadata.max-age' }),
    );
  });

  it('accepts a signature exactly metadata_max_age old, and any age with never', () => {
    expect(decideFreshness('r', undefined, at(1n, 1, NOW - 14 * DAY), STRICT, NOW).warnings).toEqual([]);
    const never: FreshnessPolicy = { maxAge: null, action: 'refuse' };
    expect(decideFreshness('r', undefined, at(1n, 1, 0), never, NOW).warnings).toEqual([]);
  });
});

describe('checkRepoMetadata with the state in TMPL_STATE_DIR', () => {
  let key: SigningKey;
  let keys: openpgp.PublicKey[];
  let dir: string | undefined;

  beforeAll(async () => {
    key = await generateSigningKey('Repo', { date: new Date((NOW - 400 * DAY) * 1000) });
    keys = [await openpgp.readKey({ armoredKey: key.publicKeyArmored })];
  });
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const definition = (extra = '', id = 'signed', gpg = 1): RepoDefinition =>
    parseRepoFile(
      new TextEncoder().encode(`[${id}]\nbaseurl=https://m.example/r\nrepo_gpgcheck=${gpg}\n${extra}`),
      'x.repo',
      { releasever: '4.2' },
    )[0]!;
  const config = (d: RepoDefinition) => ({
    id: d.id,
    baseurls: [...d.baseurls],
    gpgcheck: false,
    repoGpgcheck: d.repoGpgcheck,
    keys: [],
  });
  const evidence = async (repoid: string, revision: number, signedDaysAgo = 1): Promise<RepomdEvidence> => {
    const bytes = new TextEncoder().encode(
      `<repomd><revision>${revision}</revision><data type="primary"><timestamp>${revision}</timestamp></data></repomd>`,
    );
    return {
      repoid,
      repomd: Buffer.from(bytes).toString('base64'),
      signature: await signDetachedArmored(key, bytes, new Date((NOW - signedDaysAgo * DAY) * 1000)),
    };
  };
  const run = async (definitions: RepoDefinition[], sent: RepomdEvidence[]) => {
    const ctx = {
      stateDir: dir!,
      definitions,
      keys: new Map(definitions.map((d) => [d.id, keys])),
      now: NOW,
    };
    const prepared = await prepareMetadataCheck(ctx, definitions.map(config));
    return { prepared, warnings: await checkRepoMetadata(ctx, prepared, sent) };
  };

  it('moves on newer metadata, tells the worker the minimum, refuses older and writes nothing then', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-meta-state-'));
    const repo = definition();
    expect((await run([repo], [await evidence('signed', 2)])).warnings).toEqual([]);
    const file = path.join(dir, 'repo-metadata.json');
    const written = await readFile(file, 'utf8');
    expect(JSON.parse(written)).toMatchObject({ version: 1 });
    const { prepared } = await run([repo], [await evidence('signed', 2)]);
    expect(prepared.repos[0]).toMatchObject({ minRevision: '2' });
    await expect(run([repo], [await evidence('signed', 1)])).rejects.toMatchObject({
      code: 'metadata.rollback',
    });
    expect(await readFile(file, 'utf8')).toBe(written);
    await run([repo], [await evidence('signed', 3)]);
    expect((await readRepoMetadataState(dir, [repo])).get('signed')?.accepted?.revision).toBe(3n);
  });

  it('keys the state by the repository source: another baseurl under the same id starts afresh', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-meta-state-'));
    await run([definition()], [await evidence('signed', 9)]);
    const moved = parseRepoFile(
      new TextEncoder().encode('[signed]\nbaseurl=https://elsewhere.example/r\nrepo_gpgcheck=1\n'),
      'x.repo',
      { releasever: '4.2' },
    )[0]!;
    await expect(run([moved], [await evidence('signed', 1)])).resolves.toMatchObject({ warnings: [] });
  });

  it('warns about an old signature, refuses it with metadata_max_age_action=refuse, ignores it with never', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-meta-state-'));
    const { warnings } = await run([definition('metadata_max_age=2w\n')], [await evidence('signed', 2, 20)]);
    expect(warnings.map((w) => [w.code, w.repoid])).toEqual([['metadata.max-age', 'signed']]);
    await expect(
      run(
        [definition('metadata_max_age=2w\nmetadata_max_age_action=refuse\n')],
        [await evidence('signed', 2, 20)],
      ),
    ).rejects.toMatchObject({ code: 'metadata.max-age' });
    await expect(
      run([definition('metadata_max_age=never\n')], [await evidence('signed', 2, 300)]),
    ).resolves.toMatchObject({ warnings: [] });
  });

  it('says once that an unsigned repository cannot be checked', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-meta-state-'));
    const repo = definition('', 'plain', 0);
    const sent: RepomdEvidence = {
      repoid: 'plain',
      repomd: Buffer.from('<x/>').toString('base64'),
      signature: null,
    };
    expect((await run([repo], [sent])).warnings.map((w) => w.code)).toEqual(['metadata.unsigned']);
    expect((await run([repo], [sent])).warnings).toEqual([]);
  });

  it('refuses missing, duplicate or unasked-for evidence (metadata.evidence)', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-meta-state-'));
    const repo = definition();
    const e = await evidence('signed', 2);
    for (const sent of [[], [e, e], [e, { ...e, repoid: 'other' }]])
      await expect(run([repo], sent)).rejects.toMatchObject({ code: 'metadata.evidence' });
  });

  it('a concurrent writer never moves the state back', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-meta-state-'));
    const repo = definition();
    const source = 'baseurl https://m.example/r';
    await writeRepoMetadataState(dir, [
      { repoid: 'signed', source, accepted: { revision: 7n, timestamp: 7, signedAt: NOW } },
    ]);
    await writeRepoMetadataState(dir, [
      { repoid: 'signed', source, accepted: { revision: 5n, timestamp: 5, signedAt: NOW } },
    ]);
    expect((await readRepoMetadataState(dir, [repo])).get('signed')?.accepted?.revision).toBe(7n);
  });

  it('refuses a corrupt state file (metadata.state)', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-meta-state-'));
    await writeFile(path.join(dir, 'repo-metadata.json'), '{"version":1,"repos":{"x":{}}}');
    await expect(readRepoMetadataState(dir, [definition()])).rejects.toMatchObject({
      code: 'metadata.state',
    });
  });
});
