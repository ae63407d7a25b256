/**
 * qvm-template's known defects (QUBES.md, "Known incumbent defects worth beating") that tmpl
 * fixes, each shown through the command line against the simulated Qubes:
 * - no free-space check (#8876, #7223, #8327): a pool too small is pool.no-space, and nothing is created;
 * - packages cached in dom0: nothing is written to the cache or download directories on install;
 * - repository metadata signatures unused (#7414): a tampered repomd.xml is refused;
 * - a failed post-install exits 0 and leaves a half-made template (#10184): an error exit, no VM;
 * - remove works on any VM: a template tmpl does not manage is refused;
 * - download/remove/purge take no lock: they do;
 * - a licence with spaces breaks the listing: it is kept whole.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ScenarioTemplate } from '../../../sim/scenario.ts';
import {
  expectFailure,
  expectSuccess,
  jsonOf,
  MiB,
  runTmpl,
  RUN_TIMEOUT_MS,
  setServices,
  simState,
  useScenario,
} from '../../helpers/kit/index.ts';

const KiB = 1024;
const NAME = 'debian-defects';

const TEMPLATE: ScenarioTemplate = {
  name: NAME,
  version: '4.3.0',
  release: '1',
  image: {
    size: 4 * MiB,
    extents: [
      { offset: 0, length: 256 * KiB, seed: 'defects-a' },
      { offset: 3 * MiB, length: 256 * KiB, seed: 'defects-b' },
    ],
  },
  license: 'GPL-2.0-or-later AND MIT AND LicenseRef-Qubes with spaces',
  summary: 'Template for the incumbent-defect tests',
};

/**
 * Terminal escapes in repository text that XML 1.0 lets through (C0 controls such as ESC cannot
 * appear in primary.xml at all): C1 CSI, DEL and a bidi override.
 */
const HOSTILE: ScenarioTemplate = {
  ...TEMPLATE,
  name: 'escapes',
  image: { size: 256 * KiB, extents: [{ offset: 0, length: 16 * KiB, seed: 'escapes' }] },
  summary: 'Nice \x9b31mred\x9b0m template \x7f',
  description: 'Line one \x9b2J\nLine two \u202eevil\u202c done',
  license: 'MIT',
};

let home: string;

const world = useScenario({ templates: [TEMPLATE, HOSTILE] }, (scenario) => {
  home = path.join(scenario.dir, 'home');
});
/** Every file below `dir`. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('defects of qvm-template that tmpl does not have', () => {
  it(
    'a pool without room for the image: pool.no-space before anything is created (#8876, #7223)',
    async () => {
      // fill the simulated 1 GiB pool2 but for 64 KiB (allocated blocks count as usage)
      const filler = path.join(world.scenario.sim.env.TMPL_SIM_DIR!, 'pools', 'pool2', 'filler.img');
      const fallocate = spawn('fallocate', ['-l', String(1024 * MiB - 64 * KiB), filler]);
      expect((await once(fallocate, 'close'))[0]).toBe(0);
      try {
        const before = await world.qubes.vmNames();
        const run = await runTmpl(
          world.scenario,
          ['install', '--json', '--skip-start', '--pool', 'pool2', NAME],
          {
            env: { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') },
          },
        );
        expectFailure(run, { code: 'pool.no-space' });
        expect(jsonOf(run).error?.message).toMatch(/pool 'pool2' has \d+ bytes free/);
        expect(await world.qubes.vmNames()).toEqual(before);
      } finally {
        await rm(filler, { force: true });
      }
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'a failed qubes.PostInstall is an error exit and leaves no half-made template (#10184); no package is cached',
    async () => {
      await setServices(world.scenario, {
        [NAME]: {
          'qubes.PostInstall': {
            argv: [process.execPath, '-e', 'process.stderr.write("post-install broke\\n"); process.exit(3)'],
          },
        },
      });
      try {
        const before = await world.qubes.vmNames();
        const run = await runTmpl(world.scenario, ['install', '--json', NAME], {
          env: { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') },
        });
        expectFailure(run, { code: 'template.post-install' });
        expect(await world.qubes.vmNames()).toEqual(before);
        // the package went through the disposable only: nothing kept in this domain
        expect(await filesUnder(home)).toEqual([]);
        expect((await filesUnder(world.scenario.dir)).filter((f) => f.endsWith('.rpm.part'))).toEqual([]);
      } finally {
        await setServices(world.scenario, {});
      }
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'repository metadata signatures are enforced (#7414): a tampered repomd.xml is refused',
    async () => {
      world.scenario.server.setFaults([
        { path: '/repodata/repomd.xml', fault: { kind: 'corrupt', offset: 60 } },
      ]);
      try {
        const run = await runTmpl(world.scenario, ['list', '--json', '--available']);
        expectFailure(run, { code: 'worker.reported-error' });
        expect(jsonOf(run).error?.message).toMatch(/repomd/);
      } finally {
        world.scenario.server.setFaults([]);
      }
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'a licence with spaces is kept whole in every listing form',
    async () => {
      const [mr, json] = await Promise.all([
        runTmpl(world.scenario, ['info', '--available', '--machine-readable', NAME]),
        runTmpl(world.scenario, ['info', '--available', '--machine-readable-json', NAME]),
      ]);
      expectSuccess(mr);
      expectSuccess(json);
      expect(mr.stdout.split('|')[9]).toBe(TEMPLATE.license);
      expect((JSON.parse(json.stdout) as { available: { license: string }[] }).available[0]!.license).toBe(
        TEMPLATE.license,
      );
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'control characters and bidi overrides in repository text never reach the terminal',
    async () => {
      const runs = await Promise.all([
        runTmpl(world.scenario, ['info', '--available', 'escapes']),
        runTmpl(world.scenario, ['list', '--available', 'escapes']),
        runTmpl(world.scenario, ['search', '--all', 'Line']),
        runTmpl(world.scenario, ['info', '--available', '--machine-readable', 'escapes']),
      ]);
      for (const run of runs) {
        expectSuccess(run);
        expect(run.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u);
      }
      expect(runs[0].stdout).toContain('Summary      :  Nice \ufffd31mred\ufffd0m template \ufffd');
      expect(runs[2].stdout).toContain('escapes : Nice');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'remove refuses a VM tmpl does not manage',
    async () => {
      await world.qubes.createTemplate('not-from-a-package');
      const before = simState(world.scenario);
      expectFailure(await runTmpl(world.scenario, ['remove', '--json', '--yes', 'not-from-a-package']), {
        code: 'template.not-managed',
      });
      expect(simState(world.scenario)).toBe(before);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'download, remove and purge take the operation lock',
    async () => {
      const holder: ChildProcess = spawn(
        'flock',
        [world.scenario.env.TMPL_LOCK_FILE!, 'sh', '-c', 'echo held; exec sleep 600'],
        { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
      );
      try {
        await once(holder.stdout!, 'data');
        const runs = await Promise.all([
          runTmpl(world.scenario, ['download', '--json', '--downloaddir', world.scenario.dir, NAME]),
          runTmpl(world.scenario, ['remove', '--json', '--yes', 'not-from-a-package']),
          runTmpl(world.scenario, ['purge', '--json', '--yes', 'not-from-a-package']),
        ]);
        for (const run of runs) expectFailure(run, { code: 'lock.held' });
      } finally {
        const exited = once(holder, 'exit');
        process.kill(-holder.pid!, 'SIGKILL');
        await exited;
      }
    },
    RUN_TIMEOUT_MS,
  );
});
