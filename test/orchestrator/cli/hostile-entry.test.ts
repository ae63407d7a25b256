/**
 * One hostile entry must not take a repository down: with a primary.xml entry whose version is
 * 200 characters long in the repository, tmpl lists and installs every other template and reports
 * the bad entry as a warning with its stable code. Also through the CLI: rpm's whole unsigned
 * 32-bit epoch range, long descriptions shown cut, --keyring for a local package, and a template
 * name that an existing VM (dom0, sys-net) already holds.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostilePrimaryEntry } from '../../../sim/forge/repository.ts';
import { createScenario, SCENARIO_REPO_ID, type Scenario } from '../../../sim/scenario.ts';
import {
  expectFailure,
  expectSuccess,
  jsonOf,
  Qubes,
  runTmpl,
  RUN_TIMEOUT_MS,
  simState,
} from '../../helpers/kit/index.ts';

const KiB = 1024;
const image = (seed: string) => ({ size: 256 * KiB, extents: [{ offset: 0, length: 16 * KiB, seed }] });
const TOP_EPOCH = 4294967295;

let scenario: Scenario;
let qubes: Qubes;

beforeAll(async () => {
  scenario = await createScenario({
    templates: [
      { name: 'alpha', version: '1.0', release: '1', image: image('alpha') },
      { name: 'high-epoch', epoch: TOP_EPOCH - 1, version: '9.0', release: '1', image: image('h1') },
      { name: 'high-epoch', epoch: TOP_EPOCH, version: '1.0', release: '1', image: image('h2') },
      { name: 'local-pkg', version: '2.0', release: '1', image: image('local') },
      { name: 'dom0', version: '1.0', release: '1', image: image('dom0') },
      { name: 'sys-net', version: '1.0', release: '1', image: image('sys-net') },
    ],
    extraPrimaryEntries: [
      hostilePrimaryEntry({ name: 'qubes-template-hostile', version: 'v'.repeat(200) }),
      hostilePrimaryEntry({ name: 'qubes-template-wordy', description: 'word '.repeat(20 * KiB) }),
    ],
  });
  qubes = Qubes.of(scenario);
}, RUN_TIMEOUT_MS);

afterAll(async () => {
  await scenario?.close();
});

interface Listed {
  name: string;
  evr: string;
  reponame: string;
}

const HOSTILE_WARNING = {
  code: 'primary.evr',
  repoid: SCENARIO_REPO_ID,
  package: 'qubes-template-hostile',
};

describe('a repository with one hostile entry', () => {
  it(
    'list: the good templates, and the bad entry as a warning (stable code; stderr in human mode)',
    async () => {
      const run = await runTmpl(scenario, ['list', '--json', '--available']);
      expectSuccess(run);
      const json = jsonOf(run) as unknown as { available: Listed[]; warnings: unknown[] };
      expect(json.available.map((t) => `${t.name} ${t.evr}`).sort()).toEqual([
        'alpha 0:1.0-1',
        'dom0 0:1.0-1',
        `high-epoch ${TOP_EPOCH}:1.0-1`,
        'local-pkg 0:2.0-1',
        'sys-net 0:1.0-1',
        'wordy 0:1.0-1',
      ]);
      expect(json.warnings).toEqual([expect.objectContaining(HOSTILE_WARNING)]);
      expect(run.stderr).not.toContain('warning');

      const human = await runTmpl(scenario, ['list', '--available']);
      expectSuccess(human);
      expect(human.stdout).toMatch(/^alpha\s+0:1\.0-1\s/m);
      const lines = human.stderr.split('\n').filter((l) => l.startsWith('tmpl: warning'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^tmpl: warning \\[primary\\.evr\\]: repository ${SCENARIO_REPO_ID}: ".*qubes-template-hostile`,
        ),
      );
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'epoch 4294967295 sorts above 4294967294; a long description is shown cut, with a marker',
    async () => {
      const run = await runTmpl(scenario, ['list', '--json', '--available', '--all-versions', 'high-epoch']);
      expectSuccess(run);
      const versions = (jsonOf(run) as unknown as { available: Listed[] }).available.map((t) => t.evr);
      expect(versions).toEqual([`${TOP_EPOCH - 1}:9.0-1`, `${TOP_EPOCH}:1.0-1`]);

      const info = await runTmpl(scenario, ['info', '--json', '--available', 'wordy']);
      expectSuccess(info);
      const [wordy] = (jsonOf(info) as unknown as { available: { description: string }[] }).available;
      expect(wordy!.description.length).toBeLessThan(20 * KiB);
      expect(wordy!.description.endsWith('\n[description truncated]')).toBe(true);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'install of good templates works while the bad entry is in the repository; epoch 4294967295 installs as such',
    async () => {
      const run = await runTmpl(scenario, ['install', '--json', 'alpha', 'high-epoch']);
      expectSuccess(run);
      const json = jsonOf(run);
      expect(json).toMatchObject({
        ok: true,
        templates: [
          { template: 'alpha', status: 'installed', evr: '0:1.0-1' },
          { template: 'high-epoch', status: 'installed', evr: `${TOP_EPOCH}:1.0-1` },
        ],
        warnings: [expect.objectContaining(HOSTILE_WARNING)],
      });
      expect(await qubes.feature('high-epoch', 'template-epoch')).toBe(String(TOP_EPOCH));
      expect(await qubes.feature('high-epoch', 'template-version')).toBe('1.0');
      const installed = await runTmpl(scenario, ['list', '--json', '--installed', 'high-epoch']);
      expect((jsonOf(installed) as unknown as { installed: Listed[] }).installed).toEqual([
        { name: 'high-epoch', evr: `${TOP_EPOCH}:1.0-1`, reponame: SCENARIO_REPO_ID },
      ]);
      // The template installed: a second install is "already installed", exit 0.
      const again = await runTmpl(scenario, ['install', '--json', 'alpha']);
      expectSuccess(again);
      expect(jsonOf(again)).toMatchObject({
        templates: [{ template: 'alpha', status: 'already-installed' }],
      });
    },
    RUN_TIMEOUT_MS,
  );
});

describe('install', () => {
  it(
    '--keyring KEY install ./pkg.rpm: the keyring given applies to the local package',
    async () => {
      const pkg = scenario.packages.find((p) => p.packageName === 'qubes-template-local-pkg')!;
      const run = await runTmpl(scenario, [
        '--keyring',
        scenario.keyPath,
        'install',
        '--json',
        path.relative(scenario.dir, pkg.path),
      ]);
      expectSuccess(run);
      expect(jsonOf(run)).toMatchObject({
        ok: true,
        templates: [{ template: 'local-pkg', status: 'installed', repo: '@commandline' }],
      });
      expect(await qubes.feature('local-pkg', 'template-name')).toBe('local-pkg');
    },
    RUN_TIMEOUT_MS,
  );

  it.each(['dom0', 'sys-net'])(
    'install %s (a VM that is not that template): template.name-taken, exit 1, nothing changed',
    async (name) => {
      const before = simState(scenario);
      const vms = await qubes.vms();
      const run = await runTmpl(scenario, ['install', '--json', name]);
      expectFailure(run, { code: 'template.name-taken', exit: 1 });
      expect(simState(scenario)).toBe(before);
      expect(await qubes.vms()).toEqual(vms);
    },
    RUN_TIMEOUT_MS,
  );
});
