/**
 * How many disposables an install costs, counted by the simulated qubesd (the
 * admin.vm.CreateDisposable calls it answered), through the real `tmpl` CLI: one for an install
 * (the worker that lists the repositories fetches the package too, protocol/request-sequence.ts),
 * one per template when several are installed at once, none for a template already installed;
 * and the one worker reads the repository metadata once for both requests. `download` alike.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScenario, type Scenario } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  disposables,
  expectSuccess,
  jsonOf,
  runTmpl,
  SimQubes,
  smallTemplate,
} from '../helpers/e2e-world.ts';

const STEP_TIMEOUT = 2 * CLI_TIMEOUT_MS;

let dir: string;
let scenario: Scenario;
let qubes: SimQubes;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-e2e-disposables-'));
  scenario = await createScenario({
    templates: [
      smallTemplate('one-a', '4.2.0', '1', 'a'),
      smallTemplate('one-b', '4.2.0', '1', 'b'),
      smallTemplate('one-c', '4.2.0', '1', 'c'),
    ],
    dir,
  });
  qubes = SimQubes.of(scenario);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Disposables qubesd created so far. */
function created(): number {
  return scenario.sim.admin.answered.filter((c) => c.method === 'admin.vm.CreateDisposable').length;
}

/** Runs tmpl and tells how many disposables it made qubesd create, and how many repomd.xml reads. */
async function counted(args: readonly string[]): Promise<{ disposables: number; repomd: number }> {
  const before = created();
  const reads = scenario.server.requests.length;
  const run = await runTmpl(scenario, [...args, '--json']);
  expectSuccess(run);
  expect(jsonOf(run).ok).toBe(true);
  expect(await disposables(qubes)).toEqual([]);
  const repomd = scenario.server.requests.slice(reads).filter((r) => r.path.endsWith('/repomd.xml')).length;
  return { disposables: created() - before, repomd };
}

describe('disposables per install', () => {
  it(
    'installs a template through exactly one disposable, reading the metadata once',
    async () => {
      expect(await counted(['install', '--skip-start', 'one-a'])).toEqual({ disposables: 1, repomd: 1 });
      expect((await qubes.vms()).some((v) => v.name === 'one-a')).toBe(true);
    },
    STEP_TIMEOUT,
  );

  it(
    'starts no disposable for a template already installed',
    async () => {
      const before = created();
      const run = await runTmpl(scenario, ['install', 'one-a', '--json']);
      expectSuccess(run);
      expect(jsonOf(run).templates).toEqual([
        expect.objectContaining({ template: 'one-a', status: 'already-installed' }),
      ]);
      expect(created() - before).toBe(0);
    },
    STEP_TIMEOUT,
  );

  it(
    'installs two templates through one disposable each',
    async () => {
      expect((await counted(['install', '--skip-start', 'one-b', 'one-c'])).disposables).toBe(2);
    },
    STEP_TIMEOUT,
  );

  it(
    'reinstalls through one disposable (the listing decides the version)',
    async () => {
      expect((await counted(['reinstall', '--skip-start', '--yes', 'one-a'])).disposables).toBe(1);
    },
    STEP_TIMEOUT,
  );

  it(
    'downloads a package through one disposable, two packages through one each',
    async () => {
      const downloads = path.join(dir, 'downloads');
      const one = await counted(['download', '--downloaddir', downloads, 'one-a']);
      expect(one).toEqual({ disposables: 1, repomd: 1 });
      const two = await counted(['download', '--downloaddir', downloads, 'one-b', 'one-c']);
      expect(two.disposables).toBe(2);
      expect((await readdir(downloads)).sort()).toEqual([
        expect.stringMatching(/^qubes-template-one-a-.*\.rpm$/),
        expect.stringMatching(/^qubes-template-one-b-.*\.rpm$/),
        expect.stringMatching(/^qubes-template-one-c-.*\.rpm$/),
      ]);
    },
    STEP_TIMEOUT,
  );
});
