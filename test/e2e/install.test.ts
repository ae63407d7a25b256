/**
 * The whole job from dom0, on the simulator: the real `tmpl` CLI lists a signed forged
 * repository through a disposable, installs, reinstalls, upgrades and downgrades a template
 * through one disposable each time (it lists the repository, then fetches the package), and the simulated Qubes ends up exactly as
 * qvm-template would leave it: the root volume byte-identical to the forged image, the
 * template-* and menu features, installed_by_rpm False, label black, template.conf applied,
 * no disposable left, no scriptlet ever run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SCENARIO_REPO_ID, type Scenario, type ScenarioTemplate } from '../../sim/scenario.ts';
import {
  RUN_TIMEOUT_MS,
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

const NAME = 'fedora-e2e';
const STEP_TIMEOUT = RUN_TIMEOUT_MS + 30_000;

let scenario: Scenario;
let qubes: Qubes;
let v1: ScenarioTemplate;
let v2: ScenarioTemplate;
const sha = new Map<string, string>();

const world = useWorld('tmpl-e2e-install-', {
  templates: (dir) => {
    v1 = smallTemplate(NAME, '4.2.0', '1', 'v1', {
      canaryPath: scriptletCanary(dir),
      buildtime: 1_767_225_600,
    });
    v2 = smallTemplate(NAME, '4.2.0', '2', 'v2', {
      canaryPath: scriptletCanary(dir),
      buildtime: 1_767_312_000,
    });
    return [v1, v2];
  },
});

beforeAll(async () => {
  ({ scenario } = world.get());
  qubes = Qubes.of(scenario);
  sha.set('1', await imageSha256(v1.image));
  sha.set('2', await imageSha256(v2.image));
});

const expectClean = (): Promise<void> => expectCleanWorld(world.get());

async function rootSha(): Promise<string> {
  return fileSha256(await qubes.volumePath(NAME, 'root'));
}

describe('tmpl in dom0, worker in a disposable', () => {
  it(
    'lists the repository through a disposable',
    async () => {
      const run = await runTmpl(scenario, ['list', '--available']);
      expectSuccess(run);
      expect(run.stdout).toMatch(new RegExp(`${NAME}\\s+0:4\\.2\\.0-2\\s+${SCENARIO_REPO_ID}`));
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'installs a pinned version with --skip-start: image, features, properties, template.conf',
    async () => {
      const before = await qubes.vmNames();
      const started = Math.floor(Date.now() / 1000);
      const run = await runTmpl(scenario, ['install', '--skip-start', '--json', `${NAME}-4.2.0-1`]);
      expectSuccess(run);
      expect(jsonOf(run)).toMatchObject({
        command: 'install',
        ok: true,
        templates: [{ template: NAME, status: 'installed', evr: '0:4.2.0-1', repo: SCENARIO_REPO_ID }],
      });
      expect(await qubes.vmNames()).toEqual([...before, NAME].sort());
      expect(await rootSha()).toBe(sha.get('1'));
      expect((await qubes.volumeInfo(NAME, 'root')).size).toBe(String(24 * 1024 * 1024));

      const features = await qubes.features(NAME);
      const templateFeatures = [...features.keys()].filter((k) => k.startsWith('template-')).sort();
      expect(templateFeatures).toEqual(
        [
          'name',
          'epoch',
          'version',
          'release',
          'reponame',
          'buildtime',
          'installtime',
          'license',
          'url',
          'summary',
          'description',
        ]
          .map((k) => `template-${k}`)
          .sort(),
      );
      expect(Object.fromEntries(features)).toMatchObject({
        'template-name': NAME,
        'template-epoch': '0',
        'template-version': '4.2.0',
        'template-release': '1',
        'template-reponame': SCENARIO_REPO_ID,
        'template-buildtime': '2026-01-01 00:00:00',
        'template-license': 'GPL-2.0-or-later',
        'template-url': 'https://example.invalid/templates',
        'template-summary': `Test template ${NAME}`,
        'template-description': `A ${NAME} template forged for end-to-end tests.|Second line.`,
        'menu-items': 'org.gnome.Terminal.desktop firefox.desktop',
        'default-menu-items': 'org.gnome.Terminal.desktop',
        'netvm-menu-items': 'nm-connection-editor.desktop',
        gui: '1',
        qrexec: '1',
        'net.fake-ip': '10.137.0.5',
      });
      const installtime = Date.parse(`${features.get('template-installtime')!.replace(' ', 'T')}Z`) / 1000;
      expect(installtime).toBeGreaterThanOrEqual(started - 1);
      expect(installtime).toBeLessThanOrEqual(Date.now() / 1000 + 1);
      // template.conf's unknown key is ignored, not applied
      expect(features.has('bogus-key')).toBe(false);
      // qubes.PostInstall did not run: the features it reports are absent
      expect(features.has('os')).toBe(false);
      expect(features.has('supported-rpc.tmpl.Worker')).toBe(false);

      expect(await qubes.propertyInfo(NAME, 'installed_by_rpm')).toEqual({
        isDefault: false,
        value: 'False',
      });
      expect((await qubes.propertyInfo(NAME, 'label')).value).toBe('black');
      expect((await qubes.propertyInfo(NAME, 'virt_mode')).value).toBe('hvm');
      expect((await qubes.vms()).find((v) => v.name === NAME)).toMatchObject({
        klass: 'TemplateVM',
        state: 'Halted',
      });
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'install of an installed template exits 0 and says so (text and --json)',
    async () => {
      const text = await runTmpl(scenario, ['install', NAME]);
      expectSuccess(text);
      expect(text.stderr).toContain(`Template '${NAME}' already installed, skipping...`);
      const json = await runTmpl(scenario, ['install', '--json', NAME]);
      expectSuccess(json);
      expect(jsonOf(json)).toMatchObject({
        ok: true,
        templates: [{ template: NAME, status: 'already-installed' }],
      });
      expect(await rootSha()).toBe(sha.get('1'));
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'upgrades and runs qubes.PostInstall (no network, started, shut down)',
    async () => {
      const run = await runTmpl(scenario, ['upgrade', '--yes', '--json', NAME]);
      expectSuccess(run);
      expect(jsonOf(run).templates).toMatchObject([{ template: NAME, status: 'upgraded', evr: '0:4.2.0-2' }]);
      expect(await rootSha()).toBe(sha.get('2'));
      const features = await qubes.features(NAME);
      expect(features.get('template-release')).toBe('2');
      expect(features.get('template-buildtime')).toBe('2026-01-02 00:00:00');
      // reported by the simulated template's qubes.PostInstall through qubes.FeaturesRequest
      expect(features.get('os')).toBe('Linux');
      // one per service of its /etc/qubes-rpc: tmpl-worker is not installed in it
      expect(features.get('supported-rpc.qubes.PostInstall')).toBe('1');
      expect(features.has('supported-rpc.tmpl.Worker')).toBe(false);
      expect((await qubes.vms()).find((v) => v.name === NAME)?.state).toBe('Halted');
      expect((await qubes.propertyInfo(NAME, 'netvm')).isDefault).toBe(true);
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'reinstalls the installed version',
    async () => {
      const run = await runTmpl(scenario, ['reinstall', '--yes', '--skip-start', '--json', NAME]);
      expectSuccess(run);
      expect(jsonOf(run).templates).toMatchObject([
        { template: NAME, status: 'reinstalled', evr: '0:4.2.0-2' },
      ]);
      expect(await rootSha()).toBe(sha.get('2'));
      await expectClean();
    },
    STEP_TIMEOUT,
  );

  it(
    'downgrades to the highest lower version',
    async () => {
      const run = await runTmpl(scenario, ['downgrade', '--yes', '--skip-start', '--json', NAME]);
      expectSuccess(run);
      expect(jsonOf(run).templates).toMatchObject([
        { template: NAME, status: 'downgraded', evr: '0:4.2.0-1' },
      ]);
      expect(await rootSha()).toBe(sha.get('1'));
      const features = await qubes.features(NAME);
      expect(features.get('template-release')).toBe('1');
      expect((await qubes.propertyInfo(NAME, 'installed_by_rpm')).value).toBe('False');
      await expectClean();
    },
    STEP_TIMEOUT,
  );
});
