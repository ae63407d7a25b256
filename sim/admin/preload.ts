/**
 * Qubes 4.3's preloaded disposables, step by step as qubes/vm/dispvm.py (from_appvm,
 * gen_disposable, mark_preload, get_preload, use_preload) and qubes/vm/mix/dvmtemplate.py
 * (request_preload, fill_preload_gap, on_domain_preload_dispvm_used, remove_preload_excess) do
 * them. The costs and the record are in disposables.ts.
 */
import type { CallContext } from './api.ts';
import {
  FEATURE_TRUE,
  isDispvmTemplate,
  isPreload,
  preloadDelayMs,
  preloadList,
  preloadMax,
  setPreloadList,
} from './disposables.ts';
import { createDisposable, killVm, removeVm, startVm } from './lifecycle.ts';
import { getValue } from './properties.ts';
import type { VmState } from './state.ts';

/** The part of a call's context background work needs: it runs after the call answered. */
export type DaemonContext = Pick<CallContext, 'model' | 'log' | 'hooks' | 'save' | 'dispvms'>;

function asCall(ctx: DaemonContext, vm: VmState): CallContext {
  const dom0 = ctx.model.vm('dom0');
  return {
    ...ctx,
    src: dom0,
    dest: vm,
    arg: '',
    method: '',
    endpoint: undefined,
    payload: new Uint8Array(0),
  };
}

/** DispVM.cleanup: kill (auto_cleanup removes it), or remove one that never started. */
async function cleanup(ctx: DaemonContext, vm: VmState): Promise<void> {
  if (!ctx.model.state.vms.includes(vm)) return;
  if (ctx.model.isActive(vm)) await killVm(asCall(ctx, vm), vm);
  else await removeVm(ctx, vm);
  await ctx.save();
}

/** remove_preload_excess: drop the names beyond `max` from the list and clean those qubes up. */
export function removePreloadExcess(ctx: DaemonContext, appvm: VmState, max = preloadMax(appvm)): void {
  const list = preloadList(appvm);
  const excess = list.slice(max);
  if (excess.length === 0) return;
  setPreloadList(appvm, list.slice(0, max));
  for (const name of excess) {
    const vm = ctx.model.findVm(name);
    if (vm) ctx.dispvms.background(`cleanup of ${name}`, () => cleanup(ctx, vm));
  }
}

/** gen_disposable(preload=True): create, mark, start, and pause unless a caller took it meanwhile. */
async function preloadOne(ctx: DaemonContext, appvm: VmState): Promise<void> {
  const { dispvms } = ctx;
  const vm = await createDisposable(asCall(ctx, appvm), appvm);
  // mark_preload
  vm.features['preload-dispvm-in-progress'] = FEATURE_TRUE;
  vm.features.internal = FEATURE_TRUE;
  setPreloadList(appvm, [...preloadList(appvm), vm.name]);
  dispvms.record(vm.name, 'created', true);
  const done = dispvms.completionOf(vm.name);
  await ctx.save();
  try {
    await startVm(asCall(ctx, vm), vm);
  } catch (error) {
    // DispVM.start cleans up after a failed start.
    await cleanup(ctx, vm).catch(() => undefined);
    throw error;
  }
  // on_domain_started_dispvm
  if (!dispvms.requested.has(vm.name) && vm.powerState === 'Running') {
    vm.powerState = 'Paused';
    dispvms.record(vm.name, 'paused');
  }
  vm.features['preload-dispvm-completed'] = FEATURE_TRUE;
  if (!dispvms.requested.has(vm.name)) vm.features['preload-dispvm-in-progress'] = '';
  await ctx.save();
  done.resolve();
}

/** on_domain_preload_dispvm_used / _start: start as many as the gap holds. */
export async function fillPreload(ctx: DaemonContext, appvm: VmState, delayMs = 0): Promise<void> {
  await ctx.dispvms.wait(Math.abs(delayMs));
  if (!ctx.model.state.vms.includes(appvm) || !isDispvmTemplate(ctx.model, appvm)) return;
  removePreloadExcess(ctx, appvm);
  const want = preloadMax(appvm) - preloadList(appvm).length;
  if (want <= 0) return;
  ctx.log.info({ template: appvm.name, count: want }, 'preloading disposables');
  await Promise.all(Array.from({ length: want }, () => preloadOne(ctx, appvm)));
}

/** fill_preload_gap: a gap is filled later (at least 5 s), not in this caller's way. */
function fillPreloadGap(ctx: DaemonContext, appvm: VmState): void {
  if (preloadList(appvm).length >= preloadMax(appvm)) return;
  const delay = preloadDelayMs(ctx.model, appvm);
  if (delay < 0 && preloadList(appvm).length > 0) return;
  ctx.dispvms.background(`preload for ${appvm.name}`, () => fillPreload(ctx, appvm, Math.max(5000, delay)));
}

/** use_preload: the qube is an ordinary disposable from now on; refill behind it. */
export async function usePreload(ctx: DaemonContext, vm: VmState): Promise<void> {
  const { dispvms, model } = ctx;
  const appvm = model.vm(String(vm.props.template));
  if (appvm.features.internal === undefined) delete vm.features.internal;
  if (dispvms.requested.delete(vm.name)) {
    delete vm.features['preload-dispvm-in-progress'];
  } else {
    // Unpaused without being requested.
    setPreloadList(
      appvm,
      preloadList(appvm).filter((name) => name !== vm.name),
    );
    vm.features['preload-dispvm-in-progress'] = '';
  }
  dispvms.record(vm.name, 'used');
  await ctx.save();
  const delay = preloadDelayMs(model, appvm);
  if (delay < 0 && preloadList(appvm).length > 0) return;
  dispvms.background(`preload for ${appvm.name}`, () => fillPreload(ctx, appvm, delay));
}

/** Takes a running (or unpaused) preloaded qube off the list; null when there is none. */
async function takePreloaded(ctx: DaemonContext, appvm: VmState): Promise<VmState | null> {
  const { dispvms, model } = ctx;
  fillPreloadGap(ctx, appvm);
  const name = preloadList(appvm)[0];
  const vm = name === undefined ? undefined : model.findVm(name);
  if (!name || !vm) return null;
  // mark_preload_requested
  vm.features['preload-dispvm-in-progress'] = FEATURE_TRUE;
  setPreloadList(
    appvm,
    preloadList(appvm).filter((n) => n !== name),
  );
  dispvms.requested.add(name);
  dispvms.record(name, 'requested');
  // get_preload: wait for the start to finish, at most qrexec_timeout * 1.2
  if (!vm.features['preload-dispvm-completed']) {
    const timeout = Number(getValue(model, { kind: 'vm', vm }, 'qrexec_timeout') ?? 60) * 1200;
    const finished = await Promise.race([
      dispvms.completionOf(name).done.then(() => true),
      dispvms.wait(timeout).then(() => false),
    ]);
    if (!finished || !model.state.vms.includes(vm)) {
      dispvms.requested.delete(name);
      dispvms.background(`cleanup of ${name}`, async () => {
        await dispvms.wait(2000);
        await cleanup(ctx, vm);
      });
      return null;
    }
  }
  if (vm.powerState === 'Paused') {
    await dispvms.wait(dispvms.timing.resumeMs);
    vm.powerState = 'Running';
    dispvms.record(name, 'unpaused');
  }
  await usePreload(ctx, vm);
  return vm;
}

/** DispVM.from_appvm: a preloaded disposable when there is one, else a new (halted) one. */
export async function fromAppvm(ctx: CallContext, appvm: VmState): Promise<VmState> {
  const preloaded = await takePreloaded(ctx, appvm);
  if (preloaded) return preloaded;
  const vm = await createDisposable(ctx, appvm);
  ctx.dispvms.record(vm.name, 'created', false);
  return vm;
}

/** admin.vm.Unpause of a preloaded qube marks it used (on_domain_unpaused). */
export async function afterUnpause(ctx: CallContext, vm: VmState): Promise<void> {
  if (isPreload(ctx.model, ctx.dispvms, vm)) await usePreload(ctx, vm);
}

/** domain-feature-set:preload-dispvm-max and domain-feature-delete:preload-dispvm-max. */
export function preloadMaxChanged(ctx: CallContext, oldValue: string | undefined, removed: boolean): void {
  const appvm = ctx.dest;
  if (removed) {
    removePreloadExcess(ctx, appvm, 0);
    return;
  }
  if (oldValue === appvm.features['preload-dispvm-max'] || !isDispvmTemplate(ctx.model, appvm)) return;
  ctx.dispvms.background(`preload for ${appvm.name}`, () => fillPreload(ctx, appvm));
}

/**
 * DVMTemplateMixin.on_domain_loaded (names of qubes that are gone leave the list) and, after a
 * boot, qubes-preload-dispvm.service (CreateDisposable+preload for every template that wants some).
 */
export async function loadPreloads(ctx: DaemonContext, boot: boolean): Promise<void> {
  for (const appvm of ctx.model.vms()) {
    if (appvm.klass !== 'AppVM' || !isDispvmTemplate(ctx.model, appvm)) continue;
    const list = preloadList(appvm);
    if (list.length > 0)
      setPreloadList(
        appvm,
        list.filter((name) => ctx.model.findVm(name)),
      );
    if (boot && preloadMax(appvm) > 0) {
      ctx.dispvms.background(`preload for ${appvm.name}`, () => fillPreload(ctx, appvm));
    }
  }
  await ctx.save();
}
