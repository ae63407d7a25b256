/**
 * The packages built by `npm run package` (scripts/package.mjs, specs in packaging/): each one
 * holds exactly the paths of the committed manifest (packaging/manifest.json) with their type,
 * mode, owner, group and config flag; nothing they require is tsx or a .ts file; installed into
 * scratch roots (`rpm --root`, `dpkg -x`), their files run on plain Node with nothing from the
 * repository: the command line under both names, and the worker's native addons.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUILD_TIMEOUT_MS,
  REPO_ROOT,
  VERSION,
  buildPackages,
  debEntries,
  installDebs,
  installRpms,
  packageFile,
  readManifest,
  requirements,
  rpmEntries,
  type Manifest,
} from '../helpers/package-kit.ts';

const run = promisify(execFile);

let out: string;
let manifest: Manifest;
const roots: Record<'rpm' | 'deb', string> = { rpm: '', deb: '' };
const file = (key: string): string => packageFile(out, manifest[key]!);

beforeAll(async () => {
  manifest = readManifest();
  out = await buildPackages();
  roots.rpm = await installRpms(['tmpl.rpm', 'tmpl-worker.rpm', 'tmpl-dom0-policy.rpm'].map(file));
  roots.deb = await installDebs(['tmpl.deb', 'tmpl-worker.deb'].map(file));
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  for (const dir of [out, roots.rpm, roots.deb]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('each package against packaging/manifest.json', () => {
  it('builds the five packages the manifest names, and nothing else', async () => {
    const { stdout } = await run('ls', [out]);
    expect(stdout.trim().split('\n').sort()).toEqual(
      Object.keys(manifest)
        .map(file)
        .map((f) => path.basename(f))
        .sort(),
    );
  });

  for (const key of ['tmpl.rpm', 'tmpl.deb', 'tmpl-worker.rpm', 'tmpl-worker.deb', 'tmpl-dom0-policy.rpm']) {
    it(`${key}: exactly the manifest's paths, types, modes, owners and config flags`, async () => {
      const entries = key.endsWith('.rpm') ? await rpmEntries(file(key)) : await debEntries(file(key));
      expect(entries).toEqual(manifest[key]!.entries);
    });
  }

  it('the architectures: tmpl and the policy noarch, the worker (native addons) x86_64 / amd64', async () => {
    for (const [key, arch] of [
      ['tmpl.rpm', 'noarch'],
      ['tmpl-dom0-policy.rpm', 'noarch'],
      ['tmpl-worker.rpm', 'x86_64'],
    ] as const) {
      expect((await run('rpm', ['-qp', '--qf', '%{ARCH}', file(key)])).stdout).toBe(arch);
    }
    for (const [key, arch] of [
      ['tmpl.deb', 'all'],
      ['tmpl-worker.deb', 'amd64'],
    ] as const) {
      expect((await run('dpkg-deb', ['-f', file(key), 'Architecture'])).stdout.trim()).toBe(arch);
    }
  });
});

describe('what the packages require', () => {
  it('nothing names tsx or a .ts file', async () => {
    for (const key of Object.keys(manifest)) {
      for (const requirement of await requirements(file(key))) {
        expect(requirement, key).not.toMatch(/tsx|\.ts\b/);
      }
    }
  });

  it('tmpl and tmpl-worker need Node.js 20 or 22; no script under node_modules adds an interpreter', async () => {
    const tmplRpm = await requirements(file('tmpl.rpm'));
    expect(tmplRpm).toContain('/usr/bin/node');
    expect(tmplRpm).toContain('(nodejs >= 1:20 with nodejs < 1:23)');
    const workerRpm = await requirements(file('tmpl-worker.rpm'));
    expect(workerRpm).toContain('(nodejs >= 1:20 with nodejs < 1:23)');
    // The service file's /bin/sh; the addons' ELF needs (glibc 2.34 for zstd-napi's binding).
    expect(workerRpm).toContain('/bin/sh');
    expect(workerRpm).toContain('libc.so.6(GLIBC_2.34)(64bit)');
    expect(workerRpm.filter((r) => r.startsWith('/'))).toEqual(['/bin/sh']);
    for (const key of ['tmpl.deb', 'tmpl-worker.deb']) {
      expect(await requirements(file(key))).toEqual(
        expect.arrayContaining(['nodejs (>= 20)', 'nodejs (<< 23)']),
      );
    }
  });
});

describe.each(['rpm', 'deb'] as const)('installed from the %s packages', (format) => {
  const env = { PATH: '/usr/bin:/bin', HOME: '/nonexistent' };

  it('tmpl and tmpl-install run from the installed bundle on plain Node', async () => {
    const tmpl = path.join(roots[format], 'usr/bin/tmpl');
    const version = await run(process.execPath, [tmpl, '--version'], { cwd: '/', env });
    expect(version.stdout).toBe(`tmpl ${VERSION}\n`);
    const install = await run(
      process.execPath,
      [path.join(roots[format], 'usr/bin/tmpl-install'), '--help'],
      {
        cwd: '/',
        env,
      },
    );
    expect(install.stdout).toMatch(/^usage: tmpl install /);
  });

  it("the worker's native addons load from the installed files alone", async () => {
    const worker = path.join(roots[format], 'usr/lib/tmpl/bin/tmpl-worker.mjs');
    const script = [
      "const { createRequire } = require('node:module');",
      'const load = createRequire(process.argv[1]);',
      "const zstd = load('zstd-napi/binding'); new zstd.DCtx();",
      "load('lzma-native').createStream('streamDecoder', { memlimit: 1 << 20 }).destroy();",
      "process.stdout.write(load.resolve('zstd-napi/binding') + '\\n' + load.resolve('lzma-native'));",
    ].join('\n');
    const { stdout } = await run(process.execPath, ['-e', script, worker], { cwd: '/', env });
    for (const resolved of stdout.split('\n')) {
      expect(resolved.startsWith(path.join(roots[format], 'usr/lib/tmpl/node_modules/'))).toBe(true);
    }
  });
});

describe('the dom0 policy package', () => {
  it('installs the shipped policy file as /etc/qubes/policy.d/70-tmpl.policy', () => {
    expect(readFileSync(path.join(roots.rpm, 'etc/qubes/policy.d/70-tmpl.policy'), 'utf8')).toBe(
      readFileSync(path.join(REPO_ROOT, 'qrexec-policy/70-tmpl.policy'), 'utf8'),
    );
  });
});
