/**
 * `tmpl setup` and `tmpl setup --check` against the simulator: real processes, the simulator's
 * qrexec policy engine and disposables. From a fresh system setup makes the worker's disposable
 * template and the round trip works; run again it changes nothing. Then each missing piece is
 * taken away in turn (the worker service, Node.js, the network, the policy) and --check must name
 * it with its code, the fixing command and exit 1, a command that needs a worker must print the
 * same finding, and `tmpl setup` must fix what it can.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScenario, type Scenario } from '../../sim/scenario.ts';
import { SERVICE_TABLE_FILE, type ServiceEntry } from '../../sim/qrexec/service-table.ts';
import { ok } from '../helpers/admin-raw-client.ts';
import {
  CLI_TIMEOUT_MS,
  disposables,
  jsonOf,
  runTmpl,
  SimQubes,
  type TmplRun,
} from '../helpers/e2e-world.ts';

const STEP_TIMEOUT = CLI_TIMEOUT_MS + 30_000;
const VM_ENV = { TMPL_MODE: 'vm', TMPL_SIM_SOURCE_VM: 'mgmt' };
/** tmpl.Worker as the tmpl-worker package installs it (sim/qrexec/service-table.ts builtinServices). */
const WORKER: ServiceEntry = {
  argv: ['/bin/sh', '{repo}/qrexec-policy/qubes-rpc/tmpl.Worker'],
  env: { TMPL_HOME: '{repo}' },
};

let scenario: Scenario;
let qubes: SimQubes;

beforeAll(async () => {
  scenario = await createScenario({ templates: [] });
  qubes = SimQubes.of(scenario);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
});

interface SetupJson {
  ok: boolean;
  changed: string[];
  problems: { code: string; message: string; fix: string }[];
  worker?: string;
  error?: { code: string };
}

function setupJson(run: TmplRun): SetupJson {
  return jsonOf(run) as unknown as SetupJson;
}

async function setup(args: string[] = [], env: Record<string, string> = {}): Promise<SetupJson> {
  const run = await runTmpl(scenario, ['setup', '--json', ...args], env);
  const json = setupJson(run);
  expect(run.exitCode, run.stderr).toBe(json.ok ? 0 : 1);
  return json;
}

/** Asserts `--check` finds exactly `code` (exit 1), with a fix mentioning `fix`. */
async function expectMissing(code: string, fix: string, env: Record<string, string> = {}): Promise<void> {
  const check = await setup(['--check'], env);
  expect(check.ok).toBe(false);
  expect(check.problems.map((p) => p.code)).toEqual([code]);
  expect(check.error?.code).toBe(code);
  expect(check.problems[0]!.fix).toContain(fix);
}

async function expectReady(env: Record<string, string> = {}): Promise<void> {
  const check = await setup(['--check'], env);
  expect(check).toMatchObject({ ok: true, problems: [], changed: [] });
  expect(check.worker).toMatch(/^\d/);
}

/** The simulator's stand-in for the templates' /etc/qubes-rpc. */
async function setServices(vms: Record<string, Record<string, ServiceEntry | null>>): Promise<void> {
  await writeFile(path.join(scenario.sim.env.TMPL_SIM_DIR!, SERVICE_TABLE_FILE), JSON.stringify({ vms }));
}

async function setPolicy(file: string, text: string | null): Promise<void> {
  const dir = path.join(scenario.sim.env.TMPL_SIM_DIR!, 'policy.d');
  await mkdir(dir, { recursive: true });
  if (text === null) await rm(path.join(dir, file), { force: true });
  else await writeFile(path.join(dir, file), text);
}

describe('tmpl setup', () => {
  it(
    '--check on a fresh system: no worker disposable template, exit 1',
    async () => {
      const check = await setup(['--check']);
      expect(check.problems.map((p) => [p.code, p.fix])).toEqual([
        ['setup.dvm-missing', 'tmpl setup'],
        ['setup.default-dispvm', 'tmpl setup'],
      ]);
      expect(await qubes.vmNames()).not.toContain('tmpl-dvm');
    },
    STEP_TIMEOUT,
  );

  it(
    'makes tmpl-dvm on the template with the worker, ends with a round trip, and changes nothing the second time',
    async () => {
      const first = await setup();
      expect(first).toMatchObject({ ok: true, problems: [] });
      expect(first.changed).toEqual([
        'create tmpl-dvm (AppVM, label red) based on debian-12-xfce',
        'set tmpl-dvm template_for_dispvms = True',
        'tag tmpl-dvm tmpl-worker',
        'set dom0 default_dispvm = tmpl-dvm',
      ]);
      expect(first.worker).toMatch(/^\d/);
      expect(await qubes.property('tmpl-dvm', 'template')).toBe('debian-12-xfce');
      expect(await qubes.property('tmpl-dvm', 'template_for_dispvms')).toBe('True');
      expect(await qubes.property('tmpl-dvm', 'netvm')).toBe('sys-firewall');
      expect(await qubes.property('dom0', 'default_dispvm')).toBe('tmpl-dvm');
      const tags = await ok(scenario.sim.env.TMPL_QUBESD_SOCKET!, {
        method: 'admin.vm.tag.List',
        dest: 'tmpl-dvm',
      });
      expect(tags.split('\n')).toContain('tmpl-worker');
      expect(await disposables(qubes)).toEqual([]);

      const again = await setup();
      expect(again).toMatchObject({ ok: true, changed: [], problems: [] });
      await expectReady();
    },
    STEP_TIMEOUT,
  );

  it(
    '--preload N sets preload-dispvm-max once',
    async () => {
      expect((await setup(['--preload', '1'])).changed).toEqual([
        'set tmpl-dvm feature preload-dispvm-max = 1',
      ]);
      expect((await qubes.features('tmpl-dvm')).get('preload-dispvm-max')).toBe('1');
      expect((await setup(['--preload', '1'])).changed).toEqual([]);
    },
    STEP_TIMEOUT,
  );

  it(
    'no worker service in the template: setup.worker-service-missing, also after a failed list; setup --template moves to one that has it',
    async () => {
      await setServices({ 'debian-12-xfce': { 'tmpl.Worker': null } });
      await expectMissing(
        'setup.worker-service-missing',
        "qvm-run -p -u root debian-12-xfce 'dnf install -y tmpl-worker",
      );
      // Any command that reaches no worker prints the same finding.
      const list = await runTmpl(scenario, ['list', '--available', '--json']);
      expect(list.exitCode).not.toBe(0);
      const failed = jsonOf(list) as unknown as { problems?: { code: string }[] };
      expect(failed.problems?.map((p) => p.code)).toEqual(['setup.worker-service-missing']);
      expect(list.stderr).toContain('tmpl setup --check found:\nmissing [setup.worker-service-missing]');
      // setup cannot install packages: still missing, exit 1.
      expect((await setup()).problems.map((p) => p.code)).toEqual(['setup.worker-service-missing']);
      // tmpl-worker in fedora-41-xfce (its features not yet refreshed): setup bases the
      // disposable template on it, and the round trip proves the service.
      await setServices({
        'debian-12-xfce': { 'tmpl.Worker': null },
        'fedora-41-xfce': { 'tmpl.Worker': WORKER },
      });
      const moved = await setup(['--template', 'fedora-41-xfce']);
      expect(moved).toMatchObject({ ok: true, changed: ['set tmpl-dvm template = fedora-41-xfce'] });
      await expectReady();
      expect((await setup()).changed).toEqual([]);
      await setServices({});
      expect((await setup(['--template', 'debian-12-xfce'])).changed).toEqual([
        'set tmpl-dvm template = debian-12-xfce',
      ]);
    },
    STEP_TIMEOUT,
  );

  it(
    'Node.js missing in the template: setup.node-missing, which setup cannot fix',
    async () => {
      // A template without Node.js: tmpl.Worker runs with nothing named node on its PATH.
      const noNode = { ...WORKER, argv: ['/usr/bin/env', 'PATH=/nonexistent', ...WORKER.argv] };
      await setServices({ 'debian-12-xfce': { 'tmpl.Worker': noNode } });
      await expectMissing('setup.node-missing', "'dnf install -y nodejs || apt-get install -y nodejs'");
      expect((await setup()).problems.map((p) => p.code)).toEqual(['setup.node-missing']);
      await setServices({});
      await expectReady();
    },
    STEP_TIMEOUT,
  );

  it(
    'no network in the disposable: setup.no-network; setup resets the netvm, or sets --netvm',
    async () => {
      await ok(scenario.sim.env.TMPL_QUBESD_SOCKET!, {
        method: 'admin.vm.property.Set',
        dest: 'tmpl-dvm',
        arg: 'netvm',
        payload: '',
      });
      await expectMissing('setup.no-network', 'tmpl setup');
      expect((await setup()).changed).toEqual(['reset tmpl-dvm netvm to its default']);
      expect(await qubes.property('tmpl-dvm', 'netvm')).toBe('sys-firewall');
      expect((await setup(['--netvm', 'sys-net'])).changed).toEqual(['set tmpl-dvm netvm = sys-net']);
      expect((await setup(['--netvm', 'sys-net'])).changed).toEqual([]);
      await expectReady();
    },
    STEP_TIMEOUT,
  );
});

describe('tmpl setup from a management VM, under the shipped policy', () => {
  it(
    'refused while the VM lacks tmpl-manager; dom0 tags it with --manager and points it at tmpl-dvm',
    async () => {
      await expectMissing('setup.policy-denied', 'qvm-tags mgmt add tmpl-manager', VM_ENV);
      const dom0 = await setup(['--manager', 'mgmt']);
      expect(dom0).toMatchObject({
        ok: true,
        changed: ['tag mgmt tmpl-manager', 'set mgmt default_dispvm = tmpl-dvm'],
      });
      expect((await setup(['--manager', 'mgmt'])).changed).toEqual([]);
      expect(await qubes.property('mgmt', 'default_dispvm')).toBe('tmpl-dvm');
      // From the VM itself: nothing left to do, and --manager is dom0's.
      expect(await setup([], VM_ENV)).toMatchObject({ ok: true, changed: [] });
      const refused = await runTmpl(scenario, ['setup', '--json', '--manager', 'mgmt'], VM_ENV);
      expect([refused.exitCode, jsonOf(refused).error?.code]).toEqual([2, 'usage']);
      await expectReady(VM_ENV);
    },
    STEP_TIMEOUT,
  );

  it(
    'the policy file absent, or tmpl.Worker denied by the user: setup.policy-denied',
    async () => {
      // An empty file of the same name hides the repository's (sim/qrexec/README.md): as if absent.
      await setPolicy('70-tmpl.policy', '');
      await expectMissing('setup.policy-denied', 'sudo qubes-dom0-update tmpl-dom0-policy', VM_ENV);
      await setPolicy('70-tmpl.policy', null);
      await setPolicy('30-user.policy', 'tmpl.Worker * @anyvm @anyvm deny\n');
      await expectMissing('setup.policy-denied', 'sudo qubes-dom0-update tmpl-dom0-policy', VM_ENV);
      await setPolicy('30-user.policy', null);
      await expectReady(VM_ENV);
    },
    STEP_TIMEOUT,
  );
});
