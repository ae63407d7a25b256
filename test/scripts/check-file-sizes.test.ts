/**
 * scripts/check-file-sizes.mjs: a file over 300 lines fails unless its opening comment says why
 * ("Over 300 lines: ..."); a reason elsewhere in the file does not count; the project passes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, 'scripts/check-file-sizes.mjs');
const run = promisify(execFile);
const dirs: string[] = [];

const body = (lines: number): string =>
  Array.from({ length: lines }, (_, i) => `export const v${i} = ${i};`).join('\n') + '\n';

async function check(files: Record<string, string> | undefined): Promise<{ code: number; stderr: string }> {
  let cwd = root;
  let args: string[] = [];
  if (files) {
    cwd = await mkdtemp(path.join(tmpdir(), 'tmpl-sizes-'));
    dirs.push(cwd);
    await mkdir(path.join(cwd, 'src'));
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(cwd, 'src', name), text);
    args = ['src'];
  }
  try {
    const { stderr } = await run(process.execPath, [script, ...args], { cwd });
    return { code: 0, stderr };
  } catch (error) {
    const e = error as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('check-file-sizes', () => {
  it('refuses a long file without a reason, naming it and its length', async () => {
    const result = await check({ 'long.ts': `/** A long file. */\n${body(305)}`, 'short.ts': body(10) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('src/long.ts: 306 lines');
    expect(result.stderr).not.toContain('short.ts');
  });

  it('accepts a long file whose opening comment says why', async () => {
    const header = '/**\n * A table.\n *\n * Over 300 lines: one table.\n */\n';
    expect((await check({ 'long.ts': header + body(400) })).code).toBe(0);
  });

  it('does not count a reason outside the opening comment', async () => {
    const text = `/** A long file. */\n${body(305)}/**\n * Over 300 lines: said too late.\n */\n`;
    expect((await check({ 'long.ts': text })).code).toBe(1);
  });

  it('passes the project', async () => {
    const result = await check(undefined);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
