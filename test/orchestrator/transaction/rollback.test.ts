/**
 * Rollback protection through the CLI, and the reinstall confirmation on a terminal. After tmpl
 * installed release 2, a repository (or mirror) serving only the validly signed release 1 cannot
 * take the template back: install, reinstall and upgrade of release 1 are refused with
 * template.rollback, even when the VM's template-* features (which any Admin API client with
 * access can rewrite) claim an older version or the VM was removed behind tmpl's back. Only
 * `downgrade` goes back, and says so.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgeRepository } from '../../../sim/forge/repository.ts';
import { startRepoServer, type RepoServer } from '../../../sim/repo-server/index.ts';
import {
  createScenario,
  SCENARIO_RELEASEVER,
  type Scenario,
  type ScenarioTemplate,
} from '../../../sim/scenario.ts';
import {
  expectFailure,
  expectSuccess,
  jsonOf,
  Qubes,
  runTmpl,
  runOnTerminal,
  RUN_TIMEOUT_MS,
  simState,
} from '../../helpers/kit/index.ts';

const KiB = 1024;
const NAME = 'fedora-rb';
const STEP = RUN_TIMEOUT_MS;

function release(r: string): ScenarioTemplate {
  return {
    name: NAME,
    version: '4.3.0',
    release: r,
    image: { size: 512 * KiB, extents: [{ offset: 0, length: 64 * KiB, seed: `rb-${r}` }] },
  };
}

let scenario: Scenario;
let qubes: Qubes;
let oldMirror: RepoServer;
/** Global options for the repository that serves release 1 alone. */
let oldOnly: string[];
/** Global options for the scenario's repository (releases 1 and 2). */
let both: string[];

beforeAll(async () => {
  scenario = await createScenario({ templates: [release('1'), release('2')] });
  qubes = Qubes.of(scenario);
  const dir = path.join(scenario.dir, 'old-mirror');
  await mkdir(dir);
  const first = scenario.packages.find((p) => p.fileName.includes('-4.3.0-1.'))!;
  await forgeRepository({ dir, packages: [first.path], signingKey: scenario.key });
  oldMirror = await startRepoServer({ root: dir });
  const repoFile = path.join(scenario.dir, 'old.repo');
  await writeFile(
    repoFile,
    `[old-mirror]\nname=A mirror serving release 1\nbaseurl=${oldMirror.url}/\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://${scenario.keyPath}\n`,
  );
  oldOnly = ['--repo-files', repoFile, '--releasever', SCENARIO_RELEASEVER];
  both = [...scenario.args];
}, RUN_TIMEOUT_MS);

afterAll(async () => {
  await oldMirror?.close();
  await scenario?.close();
});

const run = (args: string[], repos: string[]) => runTmpl(scenario, [...args, ...repos], { bare: true });

async function installedRelease(): Promise<string | undefined> {
  return qubes.feature(NAME, 'template-release');
}

describe('rollback protection', () => {
  it(
    'install takes release 2; with the VM removed behind tmpl, install of release 1 is refused and creates nothing',
    async () => {
      const first = await run(['install', '--json', '--skip-start', NAME], both);
      expectSuccess(first);
      expect(jsonOf(first)).toMatchObject({ templates: [{ status: 'installed', evr: '0:4.3.0-2' }] });
      await qubes.remove(NAME);
      const refused = await run(['install', '--json', '--skip-start', NAME], oldOnly);
      expectFailure(refused, { code: 'template.rollback', exit: 1 });
      expect(refused.stderr).toContain("only 'tmpl downgrade' goes back");
      expect(await qubes.vmNames()).not.toContain(NAME);
      expectSuccess(await run(['install', '--json', '--skip-start', NAME], both));
      expect(await installedRelease()).toBe('2');
    },
    STEP * 3,
  );

  it(
    'upgrade and reinstall to release 1 are refused even when the features claim release 0 or 1',
    async () => {
      await qubes.setFeature(NAME, 'template-release', '0');
      let before = simState(scenario);
      expectFailure(await run(['upgrade', '--json', '--yes', '--skip-start', NAME], oldOnly), {
        code: 'template.rollback',
      });
      expect(simState(scenario)).toBe(before);
      await qubes.setFeature(NAME, 'template-release', '1');
      before = simState(scenario);
      expectFailure(await run(['reinstall', '--json', '--yes', '--skip-start', NAME], oldOnly), {
        code: 'template.rollback',
      });
      expect(simState(scenario)).toBe(before);
      await qubes.setFeature(NAME, 'template-release', '2');
    },
    STEP * 2,
  );

  it(
    'reinstall asks on a terminal; "no" changes nothing',
    async () => {
      const before = simState(scenario);
      const tty = await runOnTerminal(scenario, ['reinstall', '--skip-start', NAME], ['n']);
      expect(tty.prompts).toBe(1);
      expect(tty.stdout).toContain('This will override changes made in the following VMs:');
      expect(tty.exitCode, tty.stdout).toBe(1);
      expect(tty.stdout).toContain('command cancelled.');
      expect(simState(scenario)).toBe(before);
      const noTerminal = await run(['reinstall', '--json', '--skip-start', NAME], both);
      expectFailure(noTerminal, { code: 'cancelled' });
      expect(simState(scenario)).toBe(before);
    },
    STEP * 2,
  );

  it(
    'downgrade goes to release 1 and says so; then release 1 is the floor',
    async () => {
      const down = await run(['downgrade', '--json', '--yes', '--skip-start', NAME], both);
      expectSuccess(down);
      expect(jsonOf(down)).toMatchObject({
        command: 'downgrade',
        ok: true,
        templates: [{ template: NAME, status: 'downgraded', evr: '0:4.3.0-1' }],
      });
      expect(await installedRelease()).toBe('1');
      // reinstalling release 1 from the old mirror is no rollback any more
      const again = await run(['reinstall', '--json', '--yes', '--skip-start', NAME], oldOnly);
      expectSuccess(again);
      expect(jsonOf(again)).toMatchObject({ templates: [{ status: 'reinstalled', evr: '0:4.3.0-1' }] });
    },
    STEP * 2,
  );
});
