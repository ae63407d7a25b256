/**
 * The whole job from a management VM (TMPL_MODE=vm): every Admin API call and the worker go
 * through the simulator's qrexec-client-vm as `mgmt`, decided by qrexec-policy/70-tmpl.policy
 * (the VM needs the tmpl-manager tag); the worker runs in a `@dispvm` qrexec creates and
 * destroys. The policy is exactly the shipped file (plus the simulator's base policy, no
 * policy.d of the test's own): every command succeeds under it, and it refuses names and qubes
 * tmpl does not touch. `tmpl setup` runs first, as on a real system: the worker then runs in
 * disposables of tmpl-dvm, the VM's default_dispvm.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCENARIO_REPO_ID, type Scenario, type ScenarioTemplate } from '../../sim/scenario.ts';
import {
  RUN_TIMEOUT_MS,
  disposablesAfterCleanup,
  expectFailure,
  expectSuccess,
  fileSha256,
  imageSha256,
  jsonOf,
  runTmpl,
  Qubes,
  expectClean as expectCleanWorld,
  scriptletCanary,
  smallTemplate,
  useWorld,
} from '../helpers/kit/index.ts';

const NAME = 'debian-e2e';
const MGMT = 'mgmt';
const VM_ENV = { TMPL_MODE: 'vm', TMPL_SIM_SOURCE_VM: MGMT };
const STEP_TIMEOUT = RUN_TIMEOUT_MS + 30_000;

let dir: string;
let scenario: Scenario;
let qubes: Qubes;
let v1: ScenarioTemplate;
let v2: ScenarioTemplate;

const world = useWorld('tmpl-e2e-vm-', {
  templates: (dir) => {
    v1 = smallTemplate(NAME, '4.3.0', '1', 'vm1', { canaryPath: scriptletCanary(dir) });
    v2 = smallTemplate(NAME, '4.3.0', '2', 'vm2', { canaryPath: scriptletCanary(dir), compressor: 'xz' });
    return [v1, v2];
  },
});

beforeAll(() => {
  ({ dir, scenario } = world.get());
  qubes = Qubes.of(scenario);
});

const expectClean = (): Promise<void> => expectCleanWorld(world.get());

/** One call through the simulator's qrexec-client-vm as the management VM: its exit status. */
async function callAsMgmt(target: string, call: string, payload = ''): Promise<number> {
  const run = await execa(process.execPath, [scenario.sim.env.TMPL_QREXEC_CLIENT_VM!, target, call], {
    env: { ...scenario.env, TMPL_SIM_SOURCE_VM: MGMT },
    input: payload,
    reject: false,
  });
  return run.exitCode ?? -1;
}

describe('tmpl in a management VM', () => {
  it(
    'is refused by policy while the VM lacks the tmpl-manager tag',
    async () => {
      const run = await runTmpl(scenario, ['list', '--installed', '--json'], { env: VM_ENV });
      expectFailure(run, { code: 'qrexec.refused' });
      await qubes.tagSet(MGMT, 'tmpl-manager');
    },
    STEP_TIMEOUT,
  );

  it(
    'tmpl setup makes the worker disposable template and points the VM at it (and changes nothing again)',
    async () => {
      const run = await runTmpl(scenario, ['setup', '--json'], { env: VM_ENV });
      expectSuccess(run);
      const json = jsonOf(run) as unknown as { changed: string[]; worker?: string };
      expect(json.changed).toEqual([
        'create tmpl-dvm (AppVM, label red) based on debian-12-xfce',
        'set tmpl-dvm template_for_dispvms = True',
        'tag tmpl-dvm tmpl-worker',
        `set ${MGMT} default_dispvm = tmpl-dvm`,
      ]);
      expect(json.worker).toBeDefined();
      expect(await qubes.property(MGMT, 'default_dispvm')).toBe('tmpl-dvm');
      const check = await runTmpl(scenario, ['setup', '--check', '--json'], { env: VM_ENV });
      expectSuccess(check);
      expect(jsonOf(check)).toMatchObject({ ok: true, changed: [], problems: [] });
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'installs through @dispvm and runs qubes.PostInstall',
    async () => {
      const before = await qubes.vmNames();
      const run = await runTmpl(scenario, ['install', '--json', `${NAME}-4.3.0-1`], { env: VM_ENV });
      expectSuccess(run);
      expect(jsonOf(run).templates).toMatchObject([
        { template: NAME, status: 'installed', evr: '0:4.3.0-1' },
      ]);
      // The @dispvm is removed by qrexec after the call returned: wait for it, then compare.
      expect(await disposablesAfterCleanup(qubes)).toEqual([]);
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
      expect(await qubes.propertyInfo(NAME, 'installed_by_rpm')).toEqual({
        isDefault: false,
        value: 'False',
      });
      expect((await qubes.propertyInfo(NAME, 'label')).value).toBe('black');
      expect((await qubes.propertyInfo(NAME, 'virt_mode')).value).toBe('hvm');
      expect((await qubes.vms()).find((v) => v.name === NAME)?.state).toBe('Halted');
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'upgrades with --skip-start',
    async () => {
      const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME], {
        env: VM_ENV,
      });
      expectSuccess(run);
      expect(jsonOf(run).templates).toMatchObject([{ template: NAME, status: 'upgraded', evr: '0:4.3.0-2' }]);
      expect(await fileSha256(await qubes.volumePath(NAME, 'root'))).toBe(await imageSha256(v2.image));
      expect((await qubes.features(NAME)).get('template-release')).toBe('2');
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'reads under the shipped policy: list, info (with disk usage), search, repolist',
    async () => {
      // Nothing but the shipped policy decides: the simulator's own policy.d is absent.
      expect(existsSync(path.join(scenario.sim.env.TMPL_SIM_DIR!, 'policy.d'))).toBe(false);
      const list = await runTmpl(scenario, ['list', '--installed', '--json', NAME], { env: VM_ENV });
      expectSuccess(list);
      expect(JSON.parse(list.stdout)).toMatchObject({ installed: [{ name: NAME, evr: '0:4.3.0-2' }] });
      const info = await runTmpl(scenario, ['info', '--installed', '--json', NAME], { env: VM_ENV });
      expectSuccess(info);
      const row = (JSON.parse(info.stdout) as { installed: { name: string; size: string }[] }).installed[0]!;
      expect(row.name).toBe(NAME);
      expect(Number(row.size)).toBeGreaterThan(0); // admin.vm.volume.List and .Info of every volume
      const search = await runTmpl(scenario, ['search', '--json', NAME], { env: VM_ENV });
      expectSuccess(search);
      expect(search.stdout).toContain(NAME);
      expectSuccess(await runTmpl(scenario, ['repolist', '--json'], { env: VM_ENV }));
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'downloads and verifies a package, refreshes metadata, cleans the cache',
    async () => {
      const downloads = path.join(dir, 'downloads');
      const download = await runTmpl(
        scenario,
        ['download', '--json', '--downloaddir', downloads, `${NAME}-4.3.0-1`],
        { env: VM_ENV },
      );
      expectSuccess(download);
      const files = await readdir(downloads);
      expect(files).toHaveLength(1);
      const verify = await runTmpl(
        scenario,
        ['verify', '--json', '--keyring', scenario.keyPath, path.join(downloads, files[0]!)],
        { env: VM_ENV },
      );
      expectSuccess(verify);
      const refresh = await runTmpl(scenario, ['refresh-metadata', '--json', NAME], { env: VM_ENV });
      expectSuccess(refresh);
      expect(jsonOf(refresh).ok).toBe(true);
      expectSuccess(await runTmpl(scenario, ['clean', '--json'], { env: VM_ENV }));
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'downgrades (with qubes.PostInstall, holding volume revisions) and reinstalls',
    async () => {
      const down = await runTmpl(scenario, ['downgrade', '--yes', '--json', NAME], { env: VM_ENV });
      expectSuccess(down);
      expect(jsonOf(down).templates).toMatchObject([{ template: NAME, evr: '0:4.3.0-1' }]);
      expect(await fileSha256(await qubes.volumePath(NAME, 'root'))).toBe(await imageSha256(v1.image));
      const again = await runTmpl(scenario, ['reinstall', '--yes', '--skip-start', '--json', NAME], {
        env: VM_ENV,
      });
      expectSuccess(again);
      expect(jsonOf(again).templates).toMatchObject([{ template: NAME, evr: '0:4.3.0-1' }]);
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'refuses every change tmpl does not make: other names, other qubes',
    async () => {
      const features = await qubes.features(NAME);
      const label = await qubes.propertyInfo(NAME, 'label');
      const refused: [string, string, string][] = [
        [NAME, 'admin.vm.feature.Set+service.sshd', '1'],
        [NAME, 'admin.vm.feature.Set+template-dummy', '1'],
        [NAME, 'admin.vm.feature.Remove+os', ''],
        [NAME, 'admin.vm.property.Set+label', 'red'],
        [NAME, 'admin.vm.volume.Clear+root', ''],
        ['work', 'admin.vm.feature.Set+gui', '1'],
        ['work', 'admin.vm.property.Set+netvm', ''],
        ['work', 'admin.vm.property.Set+template', NAME],
        ['work', 'admin.vm.Remove', ''],
        // setup's grants stop at the worker's disposable template and its named settings
        ['tmpl-dvm', 'admin.vm.property.Set+label', 'red'],
        ['tmpl-dvm', 'admin.vm.Remove', ''],
        ['work', 'admin.vm.tag.Set+tmpl-worker', ''],
        ['work', 'admin.vm.property.Set+template_for_dispvms', 'True'],
      ];
      for (const [target, call, payload] of refused)
        expect([target, call, await callAsMgmt(target, call, payload)]).toEqual([target, call, 126]);
      expect(await qubes.features(NAME)).toEqual(features);
      expect(await qubes.propertyInfo(NAME, 'label')).toEqual(label);
      expect((await qubes.propertyInfo('work', 'netvm')).isDefault).toBe(true);
      expect(await qubes.vmNames()).toContain('work');
      // The same channel grants what tmpl does make.
      expect(await callAsMgmt(NAME, 'admin.vm.feature.Set+gui', '1')).toBe(0);
    },
    STEP_TIMEOUT,
  );

  it(
    'removes, installs again and purges',
    async () => {
      const removed = await runTmpl(scenario, ['remove', '--disassoc', '--yes', '--json', NAME], {
        env: VM_ENV,
      });
      expectSuccess(removed);
      expect(await qubes.vmNames()).not.toContain(NAME);
      expectSuccess(await runTmpl(scenario, ['install', '--skip-start', '--json', NAME], { env: VM_ENV }));
      expect(await qubes.vmNames()).toContain(NAME);
      const purged = await runTmpl(scenario, ['purge', '--yes', '--json', NAME], { env: VM_ENV });
      expectSuccess(purged);
      expect(await qubes.vmNames()).not.toContain(NAME);
      await expectClean();
    },
    STEP_TIMEOUT,
  );
});
