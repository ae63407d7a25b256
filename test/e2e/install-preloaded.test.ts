/**
 * Qubes 4.3's preloaded disposables, end to end: with `preload-dispvm-max=1` on the disposable
 * template, an install takes the disposable Qubes already started (admin.vm.CreateDisposable
 * hands it out running; admin.vm.Start on it is a no-op) instead of starting one cold, and Qubes
 * starts a new one behind it; from dom0 and from a management VM (qrexec's @dispvm does the
 * same two calls). Which disposable was which comes from the simulator's record of events.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DisposableEvent } from '../../sim/admin/disposables.ts';
import { createScenario, type Scenario, type ScenarioTemplate } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectSuccess,
  fileSha256,
  imageSha256,
  jsonOf,
  runTmpl,
  SimQubes,
  smallTemplate,
} from '../helpers/e2e-world.ts';
import { call, ok } from '../helpers/admin-raw-client.ts';

const STEP_TIMEOUT = CLI_TIMEOUT_MS + 30_000;
/** Long enough that a cold start would show in the record; short enough for a test. */
const START_MS = 300;

let dir: string;
let scenario: Scenario;
let qubes: SimQubes;
let socket: string;
let fromDom0: ScenarioTemplate;
let fromVm: ScenarioTemplate;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-e2e-preload-'));
  fromDom0 = smallTemplate('fedora-preload', '4.3.0', '1', 'pre1');
  fromVm = smallTemplate('debian-preload', '4.3.0', '1', 'pre2');
  scenario = await createScenario({
    templates: [fromDom0, fromVm],
    dir,
    dispvmTiming: { startMs: START_MS, resumeMs: 0, cleanupMs: 0 },
  });
  qubes = SimQubes.of(scenario);
  socket = scenario.sim.env.TMPL_QUBESD_SOCKET!;
  const set = (arg: string, payload: string) =>
    ok(socket, { method: 'admin.vm.feature.Set', dest: 'default-dvm', arg, payload });
  await set('preload-dispvm-delay', '0');
  await set('preload-dispvm-max', '1');
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const events = (): readonly DisposableEvent[] => scenario.sim.admin.disposables.events;

/** The preloaded disposable once it is started and paused, waiting for it. */
async function pausedPreload(): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reply = await call(socket, {
      method: 'admin.vm.feature.Get',
      dest: 'default-dvm',
      arg: 'preload-dispvm',
    });
    const name = reply.kind === 'ok' ? reply.content : '';
    if (name && (await qubes.vms()).find((v) => v.name === name)?.state === 'Paused') return name;
    if (Date.now() > deadline) throw new Error('no preloaded disposable');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const leftDisposables = async () => (await qubes.vms()).filter((v) => v.klass === 'DispVM');

/**
 * Installs `template` and checks that its first disposable was `preloaded`, taken running, and
 * that a new one was preloaded behind the one it took.
 */
async function installWithPreload(template: ScenarioTemplate, env: Record<string, string>): Promise<void> {
  const preloaded = await pausedPreload();
  const since = events().length;
  const run = await runTmpl(scenario, ['install', '--skip-start', '--json', template.name], env);
  expectSuccess(run);
  expect(jsonOf(run).templates).toMatchObject([{ template: template.name, status: 'installed' }]);
  expect(await fileSha256(await qubes.volumePath(template.name, 'root'))).toBe(
    await imageSha256(template.image),
  );

  const during = events().slice(since);
  const taken = during.filter((e) => e.event === 'requested').map((e) => e.vm);
  expect(taken[0]).toBe(preloaded);
  // The preloaded one was handed out running: no start was paid for it after the request.
  const afterRequest = during.slice(during.findIndex((e) => e.vm === preloaded && e.event === 'requested'));
  expect(afterRequest.filter((e) => e.vm === preloaded).map((e) => e.event)).toEqual([
    'requested',
    'unpaused',
    'used',
    'stopped',
    'removed',
  ]);
  // Whatever disposables the install used (a second one, made on the spot while the next is not
  // preloaded yet, until the query and the fetch share one) are gone.
  const made = during.filter((e) => e.event === 'created' && e.preload === false).map((e) => e.vm);
  for (const vm of [...taken, ...made]) {
    expect(during.filter((e) => e.vm === vm && e.event === 'removed')).toHaveLength(1);
  }
  // Qubes started the next one behind it, and it is waiting, paused.
  const next = await pausedPreload();
  expect(taken).not.toContain(next);
  expect(events().find((e) => e.vm === next && e.event === 'created')).toMatchObject({ preload: true });
  // From a VM, qrexec kills the last disposable after the caller got its exit status.
  const deadline = Date.now() + 30_000;
  let left = await leftDisposables();
  while (left.length > 1 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = await leftDisposables();
  }
  expect(left).toEqual([{ name: next, klass: 'DispVM', state: 'Paused' }]);
}

describe('an install with preloaded disposables', () => {
  it(
    'from dom0 takes the preloaded disposable and a new one is started behind it',
    async () => {
      await installWithPreload(fromDom0, {});
    },
    STEP_TIMEOUT,
  );

  it(
    'from a management VM (qrexec @dispvm) takes the preloaded disposable too',
    async () => {
      await qubes.tagSet('mgmt', 'tmpl-manager');
      await installWithPreload(fromVm, { TMPL_MODE: 'vm', TMPL_SIM_SOURCE_VM: 'mgmt' });
    },
    STEP_TIMEOUT,
  );
});
