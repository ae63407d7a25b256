/**
 * What disposables cost in the simulated qubesd and Qubes 4.3's preloaded disposables
 * (sim/admin/disposables.ts, sim/admin/preload.ts), plus admin.vm.CurrentState, through the raw
 * Admin API client. Timings are checked from the daemon's own record of event times and with
 * lower bounds only, so a loaded machine cannot make them fail.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DisposableEvent, DisposableTiming } from '../../sim/admin/disposables.ts';
import { call, ok, seededDaemon, type SeededDaemon } from '../helpers/admin-raw-client.ts';

let sim: SeededDaemon | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(timing: Partial<DisposableTiming> = {}): Promise<SeededDaemon> {
  sim = await seededDaemon({ dispvmTiming: { startMs: 0, resumeMs: 0, cleanupMs: 0, ...timing } });
  return sim;
}

const state = async (s: SeededDaemon, vm: string) =>
  /state=(\w+)/.exec(await ok(s.socket, { method: 'admin.vm.List', dest: vm }))?.[1];
const feature = async (s: SeededDaemon, vm: string, name: string) => {
  const reply = await call(s.socket, { method: 'admin.vm.feature.Get', dest: vm, arg: name });
  return reply.kind === 'ok' ? reply.content : undefined;
};
const setFeature = (s: SeededDaemon, vm: string, name: string, value: string) =>
  ok(s.socket, { method: 'admin.vm.feature.Set', dest: vm, arg: name, payload: value });

/** Polls until `check` holds (the daemon's background work is not tied to any reply). */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The one preloaded disposable of default-dvm once it is started and paused. */
const pausedPreload = (s: SeededDaemon, except?: string) =>
  until('a paused preloaded disposable', async () => {
    const name = await feature(s, 'default-dvm', 'preload-dispvm');
    if (!name || name === except || name.includes(' ')) return undefined;
    return (await state(s, name)) === 'Paused' ? name : undefined;
  });

const eventTime = (events: readonly DisposableEvent[], vm: string, event: DisposableEvent['event']) => {
  const found = events.find((e) => e.vm === vm && e.event === event);
  if (!found) throw new Error(`no ${event} event for ${vm}: ${JSON.stringify(events)}`);
  return found.at;
};

describe('admin.vm.CurrentState', () => {
  it("answers in qubesd's format and order, for halted and running qubes", async () => {
    const s = await start();
    expect(await ok(s.socket, { method: 'admin.vm.CurrentState', dest: 'personal' })).toBe(
      'mem=0 mem_static_max=0 cputime=0 power_state=Halted',
    );
    await ok(s.socket, { method: 'admin.vm.Start', dest: 'personal' });
    expect(await ok(s.socket, { method: 'admin.vm.CurrentState', dest: 'personal' })).toBe(
      `mem=${400 * 1024} mem_static_max=${4000 * 1024} cputime=0 power_state=Running`,
    );
    expect(await ok(s.socket, { method: 'admin.vm.CurrentState', dest: 'dom0' })).toMatch(
      /^mem=\d+ mem_static_max=\d+ cputime=\d+ power_state=Running$/,
    );
    expect(
      await call(s.socket, { method: 'admin.vm.CurrentState', dest: 'personal', arg: 'x' }),
    ).toMatchObject({ type: 'ProtocolError' });
  });
});

describe('disposable costs', () => {
  it('a disposable is Transient, not Running, for TMPL_SIM_DISPVM_START_MS', async () => {
    const s = await start({ startMs: 400 });
    const name = await ok(s.socket, { method: 'admin.vm.CreateDisposable' });
    const starting = ok(s.socket, { method: 'admin.vm.Start', dest: name });
    await until('the start to begin', async () => (await state(s, name)) === 'Transient');
    expect(await ok(s.socket, { method: 'admin.vm.CurrentState', dest: name })).toMatch(
      /power_state=Transient$/,
    );
    await starting;
    expect(await state(s, name)).toBe('Running');
    const events = s.daemon.disposables.events;
    expect(eventTime(events, name, 'started') - eventTime(events, name, 'starting')).toBeGreaterThanOrEqual(
      395,
    );
    // An ordinary qube starts at once: the cost is a disposable's.
    const before = Date.now();
    await ok(s.socket, { method: 'admin.vm.Start', dest: 'personal' });
    expect(s.daemon.disposables.events.filter((e) => e.vm === 'personal')).toEqual([]);
    expect(Date.now() - before).toBeLessThan(60_000);
  });

  it('Kill of a disposable answers after its clean-up (TMPL_SIM_DISPVM_CLEANUP_MS)', async () => {
    const s = await start({ cleanupMs: 300 });
    const name = await ok(s.socket, { method: 'admin.vm.CreateDisposable' });
    await ok(s.socket, { method: 'admin.vm.Start', dest: name });
    const before = Date.now();
    await ok(s.socket, { method: 'admin.vm.Kill', dest: name });
    expect(Date.now() - before).toBeGreaterThanOrEqual(295);
    const events = s.daemon.disposables.events;
    expect(eventTime(events, name, 'removed') - eventTime(events, name, 'stopped')).toBeGreaterThanOrEqual(
      295,
    );
    expect(await call(s.socket, { method: 'admin.vm.List', dest: name })).toMatchObject({
      type: 'QubesVMNotFoundError',
    });
  });
});

describe('preloaded disposables', () => {
  it('keeps preload-dispvm-max started and paused, hands one out running, starts the next behind it', async () => {
    const s = await start({ startMs: 200 });
    await setFeature(s, 'default-dvm', 'preload-dispvm-delay', '0');
    await setFeature(s, 'default-dvm', 'preload-dispvm-max', '1');
    const preloaded = await pausedPreload(s);
    expect(await feature(s, preloaded, 'internal')).toBe('1');
    expect(await feature(s, preloaded, 'preload-dispvm-completed')).toBe('1');

    const before = Date.now();
    const name = await ok(s.socket, { method: 'admin.vm.CreateDisposable', src: 'mgmt' });
    const took = Date.now() - before;
    expect(name).toBe(preloaded);
    expect(await state(s, name)).toBe('Running');
    expect(await ok(s.socket, { method: 'admin.vm.CurrentState', dest: name })).toMatch(
      /power_state=Running$/,
    );
    expect(await feature(s, name, 'internal')).toBeUndefined();
    expect(await ok(s.socket, { method: 'admin.vm.tag.List', dest: name })).toBe(
      'created-by-mgmt\ndisp-created-by-mgmt\n',
    );
    // Start on a running qube is a no-op, as qubesd's start() is; no second start is paid.
    await ok(s.socket, { method: 'admin.vm.Start', dest: name });
    const events = s.daemon.disposables.events.filter((e) => e.vm === name).map((e) => e.event);
    expect(events).toEqual(['created', 'starting', 'started', 'paused', 'requested', 'unpaused', 'used']);
    expect(took).toBeLessThan(60_000);

    // A new one is started behind it.
    const next = await pausedPreload(s, name);
    expect(next).not.toBe(name);
    expect(s.daemon.disposables.events.find((e) => e.vm === next && e.event === 'created')).toMatchObject({
      preload: true,
    });
    await ok(s.socket, { method: 'admin.vm.Kill', dest: name });
    expect(await call(s.socket, { method: 'admin.vm.List', dest: name })).toMatchObject({
      type: 'QubesVMNotFoundError',
    });

    // Removing the feature cleans the preloaded ones up.
    await ok(s.socket, { method: 'admin.vm.feature.Remove', dest: 'default-dvm', arg: 'preload-dispvm-max' });
    await until('the preloaded disposable to go', async () => {
      const reply = await call(s.socket, { method: 'admin.vm.List', dest: next });
      return reply.kind === 'exception' && reply.type === 'QubesVMNotFoundError';
    });
    expect(await feature(s, 'default-dvm', 'preload-dispvm')).toBe('');
  });

  it('a caller taking one that is still starting waits for the rest of its start', async () => {
    const s = await start({ startMs: 600 });
    await setFeature(s, 'default-dvm', 'preload-dispvm-delay', '-1');
    await setFeature(s, 'default-dvm', 'preload-dispvm-max', '1');
    const preloading = await until('a preloaded disposable to be starting', async () => {
      const listed = await feature(s, 'default-dvm', 'preload-dispvm');
      return listed && (await state(s, listed)) === 'Transient' ? listed : undefined;
    });
    const name = await ok(s.socket, { method: 'admin.vm.CreateDisposable' });
    expect(name).toBe(preloading);
    expect(await state(s, name)).toBe('Running');
    const events = s.daemon.disposables.events.filter((e) => e.vm === name);
    // Never paused: it was requested before it finished starting.
    expect(events.map((e) => e.event)).toEqual(['created', 'starting', 'requested', 'started', 'used']);
    expect(eventTime(events, name, 'started') - eventTime(events, name, 'starting')).toBeGreaterThanOrEqual(
      595,
    );
  });

  it('CreateDisposable+preload answers once the gaps are filled; taking one costs TMPL_SIM_DISPVM_RESUME_MS', async () => {
    const s = await start({ startMs: 100, resumeMs: 250 });
    await setFeature(s, 'default-dvm', 'preload-dispvm-delay', '-1');
    // Set while the template is not a disposable template: nothing starts yet.
    await ok(s.socket, {
      method: 'admin.vm.property.Set',
      dest: 'default-dvm',
      arg: 'template_for_dispvms',
      payload: 'False',
    });
    await setFeature(s, 'default-dvm', 'preload-dispvm-max', '2');
    expect(await feature(s, 'default-dvm', 'preload-dispvm')).toBeUndefined();
    await ok(s.socket, {
      method: 'admin.vm.property.Set',
      dest: 'default-dvm',
      arg: 'template_for_dispvms',
      payload: 'True',
    });
    expect(
      await ok(s.socket, { method: 'admin.vm.CreateDisposable', dest: 'default-dvm', arg: 'preload' }),
    ).toBe('');
    const names = (await feature(s, 'default-dvm', 'preload-dispvm'))!.split(' ');
    expect(names).toHaveLength(2);
    for (const name of names) expect(await state(s, name)).toBe('Paused');

    const before = Date.now();
    const taken = await ok(s.socket, { method: 'admin.vm.CreateDisposable', dest: 'default-dvm' });
    expect(Date.now() - before).toBeGreaterThanOrEqual(245);
    expect(taken).toBe(names[0]);
    // A negative delay refills only once none is left.
    expect(await feature(s, 'default-dvm', 'preload-dispvm')).toBe(names[1]);
  });

  it('refuses preload-dispvm-max on a qube that cannot report its boot, or a non-number', async () => {
    const s = await start();
    await ok(s.socket, {
      method: 'admin.vm.feature.Remove',
      dest: 'debian-12-xfce',
      arg: 'supported-rpc.qubes.WaitForSession',
    });
    expect(
      await call(s.socket, {
        method: 'admin.vm.feature.Set',
        dest: 'default-dvm',
        arg: 'preload-dispvm-max',
        payload: '1',
      }),
    ).toMatchObject({
      type: 'QubesValueError',
      message: "Qube does not support the RPC(s) 'qubes.WaitForSession'",
    });
    await setFeature(s, 'default-dvm', 'supported-rpc.qubes.WaitForSession', '1');
    expect(
      await call(s.socket, {
        method: 'admin.vm.feature.Set',
        dest: 'default-dvm',
        arg: 'preload-dispvm-max',
        payload: 'x',
      }),
    ).toMatchObject({ type: 'QubesValueError', message: 'Invalid preload-dispvm-max value: not a digit' });
    expect(await feature(s, 'default-dvm', 'preload-dispvm-max')).toBeUndefined();
  });

  it('unpausing a preloaded disposable marks it used and takes it off the list', async () => {
    const s = await start();
    await setFeature(s, 'default-dvm', 'preload-dispvm-delay', '-1');
    await setFeature(s, 'default-dvm', 'preload-dispvm-max', '1');
    const name = await pausedPreload(s);
    await ok(s.socket, { method: 'admin.vm.Unpause', dest: name });
    expect(await feature(s, 'default-dvm', 'preload-dispvm')).toBe('');
    expect(await feature(s, name, 'preload-dispvm-in-progress')).toBe('');
    expect(await feature(s, name, 'internal')).toBeUndefined();
  });
});
