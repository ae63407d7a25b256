import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  joinUrl,
  loadRepository,
  parseMirrorlist,
  substituteVariables,
} from '../../dispvm-worker/repo-client.ts';
import { forgeRepository, generateSigningKey, type SigningKey } from '../../sim/forge/index.ts';
import { startRepoServer, type RepoServer } from '../../sim/repo-server/index.ts';

describe('repository helpers', () => {
  it('substitutes dnf variables', () => {
    expect(substituteVariables('https://yum.qubes-os.org/r$releasever/templates-itl', '4.2')).toBe(
      'https://yum.qubes-os.org/r4.2/templates-itl',
    );
    expect(substituteVariables('http://m/${releasever}/$basearch/', '4.3')).toBe('http://m/4.3/x86_64/');
  });

  it('joins hrefs below a base with or without a trailing slash', () => {
    expect(joinUrl('http://m/repo', 'repodata/repomd.xml')).toBe('http://m/repo/repodata/repomd.xml');
    expect(joinUrl('http://m/repo/', 'repodata/repomd.xml')).toBe('http://m/repo/repodata/repomd.xml');
  });

  it('keeps only http(s) lines of a mirrorlist', () => {
    const text =
      '# comment\n\nhttp://a/repo\nftp://b/repo\nfile:///etc\n  https://c/repo  \njavascript:alert(1)\nhttp://d/x y\n';
    expect(parseMirrorlist(new TextEncoder().encode(text))).toEqual(['http://a/repo', 'https://c/repo']);
  });
});

describe('loadRepository and the orchestrator minimum revision (minRevision)', () => {
  let dir: string;
  let server: RepoServer;
  let key: SigningKey;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-minrev-'));
    key = await generateSigningKey('Mirror test');
    await forgeRepository({ dir: path.join(dir, 'stale'), packages: [], signingKey: key, revision: 1 });
    await forgeRepository({ dir: path.join(dir, 'fresh'), packages: [], signingKey: key, revision: 2 });
    server = await startRepoServer({ root: dir });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ctx = {
    releasever: '4.2',
    http: { attemptsPerMirror: 1, retryDelayMs: 0 },
    logger: pino({ level: 'silent' }),
  };
  const repo = (minRevision?: string) => ({
    id: 'r',
    baseurls: [`${server.url}/stale/`, `${server.url}/fresh/`],
    gpgcheck: true,
    repoGpgcheck: true,
    keys: [key.publicKeyArmored],
    ...(minRevision !== undefined ? { minRevision } : {}),
  });

  it('takes the first mirror without a minimum', async () => {
    const loaded = await loadRepository(repo(), ctx);
    expect(loaded.repomd.revision).toBe('1');
    expect(loaded.source.signature).toContain('BEGIN PGP SIGNATURE');
  });

  it('passes over a mirror older than the minimum', async () => {
    const loaded = await loadRepository(repo('2'), ctx);
    expect(loaded.repomd.revision).toBe('2');
    expect(loaded.bases[0]).toBe(`${server.url}/fresh/`);
    expect(new TextDecoder().decode(loaded.source.bytes)).toContain('<revision>2</revision>');
  });

  it('returns the first stale one when every mirror is older, for the orchestrator to refuse', async () => {
    const loaded = await loadRepository(repo('3'), ctx);
    expect(loaded.repomd.revision).toBe('1');
  });
});
