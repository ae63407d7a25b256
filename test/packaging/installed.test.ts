/**
 * The end-to-end scenario from the INSTALLED files, not the source tree: the packages are built
 * (scripts/package.mjs) and installed into scratch roots (`rpm --root`, `dpkg -x`); the
 * simulator (sim/, from the repository) then runs the installed /usr/bin/tmpl, and its
 * disposables the installed /etc/qubes-rpc/tmpl.Worker with the worker bundle and addons the
 * package put under /usr/lib/tmpl. Proven: the demo (list, install, upgrade, a tampered package
 * refused) from the RPMs; an install from the debs; the cleanup guard of the installed bundle
 * undoing a SIGKILLed install; and a worker whose template lacks an addon: the command stands in,
 * and without the command too, `worker.missing-dependency` naming the module.
 */
import { execFile, spawn } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_TABLE_FILE } from '../../sim/qrexec/service-table.ts';
import { createScenario, type Scenario } from '../../sim/scenario.ts';
import {
  Qubes,
  RUN_TIMEOUT_MS,
  cliEnv,
  disposableNames,
  expectFailure,
  expectSuccess,
  importLeftovers,
  lockIsFree,
  type CliRun,
} from '../helpers/cli-world.ts';
import {
  BUILD_TIMEOUT_MS,
  REPO_ROOT,
  buildPackages,
  installDebs,
  installRpms,
  installedWorkerService,
  packageFile,
  readManifest,
} from '../helpers/package-kit.ts';

const MiB = 1024 * 1024;
/** After the SIGKILL: the guard (its own session) removes the half-made template and frees the lock. */
const GUARD_SETTLE_MS = 60_000;

let out: string;
let rpmRoot: string;
let debRoot: string;
let scratch: string;
let scenario: Scenario;
let qubes: Qubes;
let workerTemplate: string;
let guardRpm: string;

function template(name: string, size: number, seed: string) {
  return {
    name,
    version: '4.3.0',
    release: '1',
    image: { size, extents: [{ offset: 0, length: size / 2, seed }] },
    compressor: 'zstd' as const,
    partSize: MiB,
  };
}

beforeAll(async () => {
  out = await buildPackages();
  const manifest = readManifest();
  const file = (key: string): string => packageFile(out, manifest[key]!);
  rpmRoot = await installRpms([file('tmpl.rpm'), file('tmpl-worker.rpm')]);
  debRoot = await installDebs([file('tmpl.deb'), file('tmpl-worker.deb')]);
  scratch = mkdtempSync(path.join(tmpdir(), 'tmpl-installed-'));
  scenario = await createScenario({
    templates: [
      template('fedora-deb', 2 * MiB, 'deb'),
      template('fedora-fallback', 2 * MiB, 'fallback'),
      template('fedora-missing', 2 * MiB, 'missing'),
      // incompressible megabytes a slow server takes seconds to send
      template('fedora-guard', 8 * MiB, 'guard'),
    ],
  });
  qubes = Qubes.of(scenario);
  workerTemplate = await qubes.property('default-dvm', 'template');
  guardRpm = `/${path.basename(scenario.packages.find((p) => p.path.includes('fedora-guard'))!.path)}`;
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await scenario?.close();
  for (const dir of [out, rpmRoot, debRoot, scratch]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The disposables run this tmpl.Worker entry from now on. */
function useWorker(service: Record<string, unknown>): void {
  writeFileSync(
    path.join(scenario.sim.env.TMPL_SIM_DIR!, SERVICE_TABLE_FILE),
    JSON.stringify({ vms: { [workerTemplate]: { 'tmpl.Worker': service } } }),
  );
}

/** Runs the tmpl installed under `root` (its /usr/bin/tmpl) against the scenario. */
async function installed(root: string, args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(root, 'usr/bin/tmpl'), ...args, ...scenario.args],
      { env: cliEnv(scenario), cwd: scenario.dir, timeout: RUN_TIMEOUT_MS, maxBuffer: 64 * MiB },
      (error, stdout, stderr) =>
        resolve({ exitCode: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** A copy of the deb root whose worker lacks zstd-napi (a template with a partial install). */
function rootWithoutZstdAddon(): string {
  const root = path.join(scratch, 'no-zstd-napi');
  rmSync(root, { recursive: true, force: true });
  cpSync(debRoot, root, { recursive: true, verbatimSymlinks: true });
  rmSync(path.join(root, 'usr/lib/tmpl/node_modules/zstd-napi'), { recursive: true });
  return root;
}

describe('from the installed RPMs', () => {
  it(
    'the demo: list, install, upgrade, a tampered upgrade refused',
    async () => {
      const demo = await new Promise<CliRun>((resolve) =>
        execFile(
          process.execPath,
          [path.join(REPO_ROOT, 'bin/tmpl-sim.mjs'), 'demo'],
          {
            env: {
              ...process.env,
              TMPL_SIM_TMPL: path.join(rpmRoot, 'usr/bin/tmpl'),
              TMPL_SIM_WORKER_ROOT: rpmRoot,
            },
            timeout: RUN_TIMEOUT_MS,
            maxBuffer: 64 * MiB,
          },
          (error, stdout, stderr) => resolve({ exitCode: error ? -1 : 0, stdout, stderr }),
        ),
      );
      expectSuccess(demo);
      expect(demo.stdout).toContain(
        `tmpl: ${path.join(rpmRoot, 'usr/bin/tmpl')}; worker: ${rpmRoot} (tmpl.Worker)`,
      );
      // the upgraded template, as `tmpl info --installed --machine-readable` shows it
      expect(demo.stdout).toMatch(/^installed\|fedora-demo\|0\|4\.2\.0\|2\|qubes-templates-sim\|/m);
      expect(demo.stdout).toContain('[digest.file-mismatch]');
      expect(demo.stdout).toMatch(/root volume sha256 before (\S+), after \1: unchanged/);
      expect(demo.stdout).toContain('Demo finished: every step succeeded.');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'SIGKILL during an install: the guard of the installed bundle removes the half-made template',
    async () => {
      useWorker(installedWorkerService(rpmRoot));
      const vmsBefore = await qubes.vmNames();
      scenario.server.setFaults([{ path: guardRpm, fault: { kind: 'slow', bytesPerSecond: 256 * 1024 } }]);
      const child = spawn(
        process.execPath,
        [path.join(rpmRoot, 'usr/bin/tmpl'), 'install', '--skip-start', 'fedora-guard', ...scenario.args],
        { env: cliEnv(scenario), cwd: scenario.dir, stdio: 'ignore', detached: true },
      );
      const exited = new Promise((resolve) => child.once('close', resolve));
      try {
        const deadline = Date.now() + RUN_TIMEOUT_MS / 2;
        while (!(
          (await qubes.vmNames()).includes('fedora-guard') && (await importLeftovers(scenario)).length > 0
        )) {
          expect(Date.now(), 'the import never began').toBeLessThan(deadline);
          await sleep(50);
        }
        // The guard that will clean up is the installed bundle in its guard mode.
        expect(guardCommandLines()).toContainEqual([
          process.execPath,
          path.join(rpmRoot, 'usr/lib/tmpl/bin/tmpl.mjs'),
          '--cleanup-guard',
        ]);
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
      } finally {
        scenario.server.setFaults([]);
      }
      const deadline = Date.now() + GUARD_SETTLE_MS;
      while (
        Date.now() < deadline &&
        !(lockIsFree(scenario) && !(await qubes.vmNames()).includes('fedora-guard'))
      )
        await sleep(100);
      expect(await qubes.vmNames()).toEqual(vmsBefore);
      expect(await disposableNames(qubes)).toEqual([]);
      expect(await importLeftovers(scenario)).toEqual([]);
      expect(lockIsFree(scenario)).toBe(true);
    },
    RUN_TIMEOUT_MS,
  );
});

/** The argv of every running process in the guard mode of a tmpl bundle. */
function guardCommandLines(): string[][] {
  const found: string[][] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
      if (argv.includes('--cleanup-guard')) found.push(argv);
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

describe('from the installed debs', () => {
  it(
    'installs a template through the installed worker',
    async () => {
      useWorker(installedWorkerService(debRoot));
      expectSuccess(await installed(debRoot, ['install', '--skip-start', '--json', 'fedora-deb']));
      expect(await qubes.feature('fedora-deb', 'template-name')).toBe('fedora-deb');
      expect(await qubes.feature('fedora-deb', 'template-version')).toBe('4.3.0');
    },
    RUN_TIMEOUT_MS,
  );
});

describe('a worker template without the zstd-napi addon', () => {
  it(
    'falls back to the zstd command and installs',
    async () => {
      useWorker(installedWorkerService(rootWithoutZstdAddon()));
      expectSuccess(await installed(debRoot, ['install', '--skip-start', '--json', 'fedora-fallback']));
      expect(await qubes.feature('fedora-fallback', 'template-name')).toBe('fedora-fallback');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'without the zstd command either: worker.missing-dependency naming the module, nothing installed',
    async () => {
      // A PATH holding only node: no zstd (nor xz, bzip2) in this template.
      const bin = path.join(scratch, 'node-only-bin');
      mkdirSync(bin, { recursive: true });
      symlinkSync(process.execPath, path.join(bin, 'node'));
      useWorker(installedWorkerService(rootWithoutZstdAddon(), [bin]));
      const run = await installed(debRoot, ['install', '--skip-start', '--json', 'fedora-missing']);
      expectFailure(run, 'worker.missing-dependency');
      expect(run.stderr).toContain('zstd-napi');
      expect(run.stderr).toContain('the command zstd (not on PATH)');
      expect(await qubes.vmNames()).not.toContain('fedora-missing');
    },
    RUN_TIMEOUT_MS,
  );
});
