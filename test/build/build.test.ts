/**
 * The built files (npm run build): they run on plain Node without TypeScript, without tsx and,
 * for the command line, without node_modules; the library imports by package name.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.join(ROOT, 'dist');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

let alone: string;

beforeAll(async () => {
  if (!existsSync(path.join(DIST, 'lib', 'index.js'))) {
    await run(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT });
  }
  // The CLI bundle copied where no node_modules can be found above it.
  alone = mkdtempSync(path.join(tmpdir(), 'tmpl-build-'));
  cpSync(path.join(DIST, 'tmpl.mjs'), path.join(alone, 'tmpl.mjs'));
}, 300_000);

afterAll(() => rmSync(alone, { recursive: true, force: true }));

describe('the command-line bundle', () => {
  it('runs with no node_modules: --help, --version, --version --json', async () => {
    const help = await run(process.execPath, [path.join(alone, 'tmpl.mjs'), '--help']);
    expect(help.stdout).toMatch(/^usage: tmpl /);
    const version = await run(process.execPath, [path.join(alone, 'tmpl.mjs'), '--version']);
    expect(version.stdout).toBe(`tmpl ${VERSION}\n`);
    const json = await run(process.execPath, [path.join(alone, 'tmpl.mjs'), '--version', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      command: 'version',
      ok: true,
      version: VERSION,
      node: process.version,
    });
  });

  it('answers as tmpl-install when invoked under that name', async () => {
    cpSync(path.join(alone, 'tmpl.mjs'), path.join(alone, 'tmpl-install'));
    const help = await run(process.execPath, [path.join(alone, 'tmpl-install'), '--help']);
    expect(help.stdout).toMatch(/^usage: tmpl install /);
  });

  it('a usage error still exits 2 with its code', async () => {
    const failure = await run(process.execPath, [
      path.join(alone, 'tmpl.mjs'),
      'no-such-command',
      '--json',
    ]).catch((error: { code: number; stdout: string }) => error);
    expect('code' in failure && failure.code).toBe(2);
    expect(JSON.parse(failure.stdout)).toMatchObject({ ok: false, error: { code: 'usage' } });
  });
});

describe('dist/', () => {
  it('needs neither tsx nor a .ts file', () => {
    for (const file of ['tmpl.mjs', 'tmpl-worker.mjs']) {
      const text = readFileSync(path.join(DIST, file), 'utf8');
      expect(text).not.toMatch(/from ["']tsx|require\(["']tsx|import\(["']tsx/);
      expect(text).not.toMatch(/import\(["'][^"']+\.ts["']\)/);
    }
  });

  it('lists the licence of every bundled package', () => {
    const notices = readFileSync(path.join(DIST, 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    for (const name of ['openpgp', 'zod', 'pino', 'execa', 'p-queue'])
      expect(notices).toContain(`==== ${name} `);
  });
});

describe('the library', () => {
  it('imports by package name from plain Node', async () => {
    const script = "import { compareEvr } from 'tmpl'; console.log(compareEvr('1:1.0-1', '0:2.0-1'));";
    const result = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    expect(result.stdout.trim()).toBe('1');
  });

  it('type-checks in a TypeScript project that depends on it', async () => {
    const project = mkdtempSync(path.join(tmpdir(), 'tmpl-consumer-'));
    try {
      mkdirSync(path.join(project, 'node_modules'));
      symlinkSync(ROOT, path.join(project, 'node_modules', 'tmpl'));
      symlinkSync(path.join(ROOT, 'node_modules', '@types'), path.join(project, 'node_modules', '@types'));
      writeFileSync(path.join(project, 'package.json'), '{"type":"module"}');
      writeFileSync(
        path.join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'NodeNext',
            strict: true,
            noEmit: true,
            types: ['node'],
            target: 'ES2022',
          },
          files: ['use.ts'],
        }),
      );
      writeFileSync(
        path.join(project, 'use.ts'),
        "import { compareEvr, type PackageInfo } from 'tmpl';\nexport const order: number = compareEvr('1:1-1', '0:2-1');\nexport type Info = PackageInfo;\n",
      );
      await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project]);
      // and a type error is reported, so the check above can fail
      writeFileSync(
        path.join(project, 'use.ts'),
        "import { compareEvr } from 'tmpl';\nexport const s: string = compareEvr('1', '2');\n",
      );
      const failed = await run(process.execPath, [
        path.join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        project,
      ]).then(
        () => ({ stdout: 'no error' }),
        (error: { stdout: string }) => error,
      );
      expect(failed.stdout).toMatch(/error TS2322/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 300_000);
});
