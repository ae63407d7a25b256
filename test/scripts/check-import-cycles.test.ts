/**
 * scripts/check-import-cycles.mjs: fails on a planted circle (type imports included, dynamic
 * import() not), passes a tree without one, and passes the project itself.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, 'scripts/check-import-cycles.mjs');
const run = promisify(execFile);
const dirs: string[] = [];

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tmpl-cycles-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

async function check(
  cwd: string,
  args: string[] = ['src'],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [script, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('check-import-cycles', () => {
  it('fails on a circle of three files, one link of it a type import, and names it', async () => {
    const dir = await tree({
      'src/a.ts': "import { b } from './b.ts';\nexport const a = b;\n",
      'src/b.ts': "import type { C } from './sub/c.ts';\nexport const b = 1 as C;\n",
      'src/sub/c.ts': "export { a } from '../a.ts';\nexport type C = number;\n",
      'src/d.ts': "import { a } from './a.ts';\nexport const d = a;\n",
    });
    const result = await check(dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('import circle: src/a.ts -> src/b.ts -> src/sub/c.ts -> src/a.ts');
    expect(result.stderr).toContain('1 import circle(s) among 4 files');
  });

  it('passes a tree whose only way back is a dynamic import()', async () => {
    const dir = await tree({
      'src/a.ts': "import { b } from './b.ts';\nexport const a = b;\n",
      'src/b.ts': "export const b = 1;\nexport const later = () => import('./a.ts');\n",
    });
    const result = await check(dir);
    expect(result).toMatchObject({ code: 0, stdout: 'no import circle among 2 files\n' });
  });

  it('finds a file that imports itself', async () => {
    const dir = await tree({ 'src/a.ts': "export * from './a.ts';\n" });
    expect((await check(dir)).stderr).toContain('import circle: src/a.ts -> src/a.ts');
  });

  it('finds no circle in the project', async () => {
    const result = await check(root, []);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
