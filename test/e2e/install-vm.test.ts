/**
 * The whole job from a management VM (TMPL_MODE=vm): every Admin API call and the worker go
 * through the simulator's qrexec-client-vm as `mgmt`, decided by qrexec-policy/70-tmpl.policy
 * (the VM needs the tmpl-manager tag); the worker runs in a `@dispvm` qrexec creates and
 * destroys.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createScenario,
  SCENARIO_REPO_ID,
  type Scenario,
  type ScenarioTemplate,
} from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  disposables,
  expectFailure,
  expectSuccess,
  fileSha256,
  imageSha256,
  importLeftovers,
  jsonOf,
  runTmpl,
  SimQubes,
  smallTemplate,
} from '../helpers/e2e-world.ts';

const NAME = 'debian-e2e';
const MGMT = 'mgmt';
const VM_ENV = { TMPL_MODE: 'vm', TMPL_SIM_SOURCE_VM: MGMT };
const STEP_TIMEOUT = CLI_TIMEOUT_MS + 30_000;

let dir: string;
let scenario: Scenario;
let qubes: SimQubes;
let canary: string;
let v1: ScenarioTemplate;
let v2: ScenarioTemplate;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-e2e-vm-'));
  canary = path.join(dir, 'scriptlet-canary');
  v1 = smallTemplate(NAME, '4.3.0', '1', 'vm1', { canaryPath: canary });
  v2 = smallTemplate(NAME, '4.3.0', '2', 'vm2', { canaryPath: canary, compressor: 'xz' });
  scenario = await createScenario({ templates: [v1, v2], dir });
  qubes = SimQubes.of(scenario);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function expectClean(): Promise<void> {
  expect(await disposables(qubes)).toEqual([]);
  expect(await importLeftovers(scenario.sim.env.TMPL_SIM_DIR!)).toEqual([]);
  expect(existsSync(canary)).toBe(false);
}

describe('tmpl in a management VM', () => {
  it(
    'is refused by policy while the VM lacks the tmpl-manager tag',
    async () => {
      const run = await runTmpl(scenario, ['list', '--installed', '--json'], VM_ENV);
      expectFailure(run, 'qrexec.refused');
      await qubes.tagSet(MGMT, 'tmpl-manager');
    },
    STEP_TIMEOUT,
  );

  it(
    'installs through @dispvm and runs qubes.PostInstall',
    async () => {
      const before = await qubes.vmNames();
      const run = await runTmpl(scenario, ['install', '--json', `${NAME}-4.3.0-1`], VM_ENV);
      expectSuccess(run);
      expect(jsonOf(run).templates).toMatchObject([
        { template: NAME, status: 'installed', evr: '0:4.3.0-1' },
      ]);
      expect(await qubes.vmNames()).toEqual([...before, NAME].sort());
      expect(await fileSha256(await qubes.volumePath(NAME, 'root'))).toBe(await imageSha256(v1.image));
      const features = await qubes.features(NAME);
      expect(Object.fromEntries(features)).toMatchObject({
        'template-name': NAME,
        'template-version': '4.3.0',
        'template-release': '1',
        'template-reponame': SCENARIO_REPO_ID,
        'menu-items': 'org.gnome.Terminal.desktop firefox.desktop',
        'default-menu-items': 'org.gnome.Terminal.desktop',
        'netvm-menu-items': 'nm-connection-editor.desktop',
        gui: '1',
        qrexec: '1',
        os: 'Linux',
      });
      expect([...features.keys()].filter((k) => k.startsWith('template-'))).toHaveLength(11);
      expect(await qubes.property(NAME, 'installed_by_rpm')).toEqual({ isDefault: false, value: 'False' });
      expect((await qubes.property(NAME, 'label')).value).toBe('black');
      expect((await qubes.property(NAME, 'virt_mode')).value).toBe('hvm');
      expect((await qubes.vms()).find((v) => v.name === NAME)?.state).toBe('Halted');
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'upgrades with --skip-start',
    async () => {
      const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME], VM_ENV);
      expectSuccess(run);
      expect(jsonOf(run).templates).toMatchObject([{ template: NAME, status: 'upgraded', evr: '0:4.3.0-2' }]);
      expect(await fileSha256(await qubes.volumePath(NAME, 'root'))).toBe(await imageSha256(v2.image));
      expect((await qubes.features(NAME)).get('template-release')).toBe('2');
      await expectClean();
    },
    STEP_TIMEOUT,
  );
});
