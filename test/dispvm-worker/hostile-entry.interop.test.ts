/**
 * A createrepo_c repository of rpmbuild packages with one hostile entry edited into primary.xml
 * (the file recompressed, repomd.xml's checksums and sizes updated and repomd.xml re-signed with
 * gpg, as a hostile but trusted packager would): the worker's query lists every other template
 * and reports the bad entry as a warning. rpm itself reads EPOCH 4294967295 back as such.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execa } from 'execa';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../dispvm-worker/service.ts';
import { findRepomdData, parseRepomd } from '../../dispvm-worker/repomd.ts';
import { decodeFrames, FrameSequence } from '../../protocol/frames.ts';
import { MAX_DESCRIPTION_LENGTH } from '../../protocol/limits.ts';
import { decodeJsonFrame, encodeRequest, type QueryResult } from '../../protocol/messages.ts';
import { startRepoServer, type RepoServer } from '../../sim/repo-server/index.ts';
import { makeGpgKey, removeGpgKey, type GpgKey } from '../helpers/rpm-fixtures.ts';
import { buildRepo, makeTempDir, signRepomd, type FixtureRepo } from '../helpers/repo-fixture.ts';

const TOP_EPOCH = 4294967295;
const REPO_ID = 'qubes-templates-community';

let base: string;
let key: GpgKey;
let repo: FixtureRepo;
let server: RepoServer;

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Inserts `entry` into the repository's primary.xml and re-signs the metadata. */
async function editPrimary(edit: (xml: string) => string): Promise<void> {
  const repomdPath = path.join(repo.dir, 'repodata', 'repomd.xml');
  const repomd = await readFile(repomdPath, 'utf8');
  const entry = findRepomdData(parseRepomd(Buffer.from(repomd)), 'primary')!;
  const oldFile = await readFile(path.join(repo.dir, entry.locationHref));
  const open = Buffer.from(edit(gunzipSync(oldFile).toString('utf8')));
  const file = gzipSync(open);
  const href = `repodata/${sha256(file)}-primary.xml.gz`;
  await writeFile(path.join(repo.dir, href), file);
  await writeFile(
    repomdPath,
    repomd
      .replace(entry.checksum.value, sha256(file))
      .replace(entry.openChecksum!.value, sha256(open))
      .replace(entry.locationHref, href)
      .replace(`<size>${entry.size}</size>`, `<size>${file.length}</size>`)
      .replace(`<open-size>${entry.openSize}</open-size>`, `<open-size>${open.length}</open-size>`),
  );
  await signRepomd(repo, key);
}

async function query(): Promise<{ exitCode: number; result?: QueryResult; error?: { code: string } }> {
  const request = encodeRequest({
    protocol: 1,
    op: 'query',
    releasever: '4.2',
    repos: [
      {
        id: REPO_ID,
        baseurls: [`${server.url}/`],
        gpgcheck: true,
        repoGpgcheck: true,
        keys: [key.publicKeyArmored],
      },
    ],
  });
  const chunks: Buffer[] = [];
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const exitCode = await runWorker({ input: [request], output, logger: pino({ level: 'silent' }) });
  let result: QueryResult | undefined;
  let error: { code: string } | undefined;
  for await (const frame of decodeFrames([Buffer.concat(chunks)], { sequence: new FrameSequence('query') })) {
    if (frame.type === 'QUERY_RESULT') result = decodeJsonFrame(frame, 'QUERY_RESULT');
    if (frame.type === 'ERROR') error = decodeJsonFrame(frame, 'ERROR');
  }
  return { exitCode, ...(result ? { result } : {}), ...(error ? { error } : {}) };
}

beforeAll(async () => {
  base = await makeTempDir('tmpl-hostile-entry-');
  key = await makeGpgKey('Community Signer');
  repo = await buildRepo(base, REPO_ID, [
    { name: 'qubes-template-good', version: '1.0', release: '1' },
    { name: 'qubes-template-top-epoch', version: '1.0', release: '1', epoch: TOP_EPOCH },
    { name: 'qubes-template-wordy', version: '1.0', release: '1', description: 'word '.repeat(20 * 1024) },
  ]);
  await signRepomd(repo, key);
  server = await startRepoServer({ root: repo.dir });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (key) await removeGpgKey(key);
  if (base) await rm(base, { recursive: true, force: true });
});

describe('a createrepo_c repository with one hostile entry', () => {
  it('rpm reads EPOCH 4294967295 back unsigned, and createrepo_c writes it so', async () => {
    const rpmFile = (await readdir(repo.dir)).find((f) => f.startsWith('qubes-template-top-epoch'))!;
    const { stdout } = await execa('rpm', [
      '-qp',
      '--dbpath',
      path.join(base, 'rpmdb'),
      '--qf',
      '%{EPOCH}:%{VERSION}-%{RELEASE}',
      path.join(repo.dir, rpmFile),
    ]);
    expect(stdout).toBe(`${TOP_EPOCH}:1.0-1`);
    const { result } = await query();
    expect(result!.packages.find((p) => p.name === 'qubes-template-top-epoch')!.epoch).toBe(TOP_EPOCH);
  });

  it('lists the good templates and reports the bad entry as a warning', async () => {
    await editPrimary((xml) => {
      const good =
        /<package type="rpm">(?:(?!<\/package>)[\s\S])*qubes-template-good<(?:(?!<\/package>)[\s\S])*<\/package>/.exec(
          xml,
        )![0];
      const hostile = good
        .replaceAll('qubes-template-good', 'qubes-template-hostile')
        .replace(/ ver="1\.0"/, ` ver="${'v'.repeat(200)}"`);
      return xml.replace('packages="3"', 'packages="4"').replace('</metadata>', `${hostile}\n</metadata>`);
    });
    const { exitCode, result } = await query();
    expect(exitCode).toBe(0);
    expect(result!.packages.map((p) => `${p.name}-${p.epoch}:${p.version}-${p.release}`).sort()).toEqual([
      'qubes-template-good-0:1.0-1',
      `qubes-template-top-epoch-${TOP_EPOCH}:1.0-1`,
      'qubes-template-wordy-0:1.0-1',
    ]);
    expect(result!.warnings).toEqual([
      expect.objectContaining({ code: 'primary.evr', repoid: REPO_ID, package: 'qubes-template-hostile' }),
    ]);
    const wordy = result!.packages.find((p) => p.name === 'qubes-template-wordy')!;
    expect(wordy.description).toHaveLength(MAX_DESCRIPTION_LENGTH);
    expect(wordy.description.endsWith('\n[description truncated]')).toBe(true);
  });

  it('still refuses the repository when primary.xml does not match the signed repomd.xml', async () => {
    const repomd = await readFile(path.join(repo.dir, 'repodata', 'repomd.xml'));
    const entry = findRepomdData(parseRepomd(repomd), 'primary')!;
    const file = path.join(repo.dir, entry.locationHref);
    const xml = gunzipSync(await readFile(file)).toString('utf8');
    await writeFile(file, gzipSync(Buffer.from(xml.replace('qubes-template-good', 'qubes-template-evil'))));
    const { exitCode, result, error } = await query();
    expect(exitCode).toBe(1);
    expect(result).toBeUndefined();
    expect(error?.code).toMatch(/^primary\.(size|checksum)$/);
  });
});
