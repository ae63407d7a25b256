/** `tmpl-sim forge` and `tmpl-sim serve` as a user runs them. */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../sim/cli.ts';
import { rpmkeysCheck } from '../helpers/rpm-fixtures.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/tmpl-sim.mjs');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-forge-cli-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs `tmpl-sim ARGS` in this process, capturing what it prints. */
async function sim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('tmpl-sim forge and serve', () => {
  it('forges two packages with one key into a signed repository and serves it', async () => {
    const out = path.join(work, 'repo');
    const pub = path.join(work, 'key.asc');
    const sec = path.join(work, 'key.sec');
    const common = [
      '--out',
      out,
      '--image-size',
      '2097152',
      '--data-bytes',
      '50000',
      '--part-size',
      '32768',
      '--repo',
    ];
    const first = await execa('node', [
      BIN,
      'forge',
      ...common,
      '--name',
      'one',
      '--key-out',
      pub,
      '--secret-key-out',
      sec,
    ]);
    expect(first.stdout.split('\n')[0]).toBe(
      path.join(out, 'qubes-template-one-4.2.0-202601010000.noarch.rpm'),
    );
    await execa('node', [
      BIN,
      'forge',
      ...common,
      '--name',
      'two',
      '--epoch',
      '2',
      '--compressor',
      'xz',
      '--key',
      sec,
    ]);
    const rpms = (await readdir(out)).filter((f) => f.endsWith('.rpm')).sort();
    expect(rpms).toEqual([
      'qubes-template-one-4.2.0-202601010000.noarch.rpm',
      'qubes-template-two-4.2.0-202601010000.noarch.rpm',
    ]);
    for (const rpm of rpms) expect((await rpmkeysCheck(path.join(out, rpm), [pub])).ok).toBe(true);
    expect(await readFile(path.join(out, 'repodata/repomd.xml.asc'), 'utf8')).toContain(
      'BEGIN PGP SIGNATURE',
    );

    const server = execa('node', [BIN, 'serve', '--root', out], { buffer: false });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        server.stdout.on('data', (c: Buffer) => {
          text += c.toString();
          const line = text.split('\n')[0];
          if (text.includes('\n') && line) resolve(line);
        });
        server.once('exit', () => reject(new Error('serve exited')));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const repomd = await get(`${url}/repodata/repomd.xml`);
      expect(repomd.status).toBe(200);
      expect(repomd.body).toBe(await readFile(path.join(out, 'repodata/repomd.xml'), 'utf8'));
    } finally {
      server.kill('SIGTERM');
      const done = await server.catch((e: unknown) => e);
      expect(done).toBeDefined();
    }
  });

  it('rejects an unknown compressor with a usage error', async () => {
    const r = await sim(['forge', '--out', work, '--compressor', 'lz4']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--compressor must be one of');
  });
});
