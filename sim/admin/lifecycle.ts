/**
 * Creating, removing, starting and stopping qubes (qubes/app.py add_new_vm and
 * VMCollection.__delitem__, qubes/vm/qubesvm.py start/shutdown/kill, qubes/vm/dispvm.py).
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { CallContext } from './api.ts';
import { preloadList, setPreloadList, type Disposables } from './disposables.ts';
import { exc, QubesApiError, UnhandledServerError } from './errors.ts';
import type { QubesModel } from './model.ts';
import { getValue, getVmRef, isDefault, propertyList } from './properties.ts';
import { connectedVms } from './property-helpers.ts';
import type { PropValue, VmClass, VmState } from './state.ts';
import { createOnDisk, initVolumes, removeFromDisk, stopVolumes, type VolumePools } from './storage.ts';

/** qubes.config.max_dispid */
export const MAX_DISPID = 10000;

export interface NewVm {
  readonly klass: Exclude<VmClass, 'AdminVM'>;
  readonly name: string;
  readonly label: string;
  readonly template: VmState | null;
  readonly props?: Record<string, PropValue>;
  /** pool= (every volume) or pool:VOLUME= */
  readonly pool?: string;
  readonly pools?: Partial<Record<keyof VolumePools, string>>;
}

function defaultPools(model: QubesModel, req: NewVm): VolumePools {
  const pick = (volume: keyof VolumePools): string => {
    const explicit = req.pools?.[volume] ?? req.pool;
    if (explicit) return explicit;
    const value = getValue(model, { kind: 'app' }, `default_pool_${volume}`);
    return typeof value === 'string' ? value : 'varlibqubes';
  };
  return { root: pick('root'), private: pick('private'), volatile: pick('volatile'), kernel: 'linux-kernel' };
}

/** add_new_vm + create_on_disk; the record is withdrawn again if the disk work fails. */
export async function addNewVm(model: QubesModel, req: NewVm): Promise<VmState> {
  if (model.findVm(req.name)) throw exc.vmAlreadyExists(req.name);
  let template = req.template;
  if ((req.klass === 'AppVM' || req.klass === 'DispVM') && !template) {
    template = getVmRef(model, { kind: 'app' }, 'default_template');
    if (!template || req.klass === 'DispVM')
      throw exc.propertyValue(`Invalid value None for property 'template' of ${req.name}`);
  }
  if (req.klass === 'AppVM' && template && template.klass !== 'TemplateVM')
    throw exc.propertyValue(
      `wrong VM class: domains['${template.name}'] is of type ${template.klass} and not TemplateVM`,
    );
  if (req.klass === 'DispVM' && template) {
    if (getValue(model, { kind: 'vm', vm: template }, 'template_for_dispvms') !== true)
      throw exc.value(
        `template for disposable (${template.name}) needs to be an AppVM with template_for_dispvms=True`,
      );
  }
  const vm: VmState = {
    name: req.name,
    klass: req.klass,
    qid: model.nextQid(),
    uuid: randomUUID(),
    powerState: 'Halted',
    props: { label: req.label, ...(template ? { template: template.name } : {}), ...req.props },
    features: {},
    tags: [],
    volumes: {},
  };
  const kernel = getValue(model, { kind: 'app' }, 'default_kernel');
  vm.volumes = initVolumes(vm, defaultPools(model, req), typeof kernel === 'string' ? kernel : '', template);
  model.state.vms.push(vm);
  try {
    await createOnDisk(model, vm);
  } catch (error) {
    model.state.vms = model.state.vms.filter((v) => v !== vm);
    await removeFromDisk(model, vm).catch(() => undefined);
    throw error;
  }
  return vm;
}

/** get_qube_prop_deps: global properties and explicitly set VM properties naming `vm`. */
export function propertyDependencies(model: QubesModel, vm: VmState): string[] {
  const deps: string[] = [];
  const app = { kind: 'app' } as const;
  for (const def of propertyList(app)) {
    if (def.type === 'vm' && getValue(model, app, def.name) === vm.name) deps.push(`@GLOBAL:${def.name}`);
  }
  for (const other of model.vms()) {
    if (other === vm) continue;
    const holder = { kind: 'vm', vm: other } as const;
    for (const def of propertyList(holder)) {
      if (def.type !== 'vm' || isDefault(model, holder, def.name)) continue;
      if (getValue(model, holder, def.name) === vm.name) deps.push(`${other.name}:${def.name}`);
    }
  }
  return deps;
}

/** VMCollection.__delitem__ with the domain-pre-delete checks, then remove_from_disk. */
export async function removeVm(
  ctx: Pick<CallContext, 'model' | 'log'> & { readonly dispvms?: Disposables },
  vm: VmState,
): Promise<void> {
  const { model } = ctx;
  if (!model.isHalted(vm)) throw exc.vmNotHalted(vm.name);
  const deps = propertyDependencies(model, vm);
  if (deps.length > 0) {
    ctx.log.error(`Cannot remove ${vm.name} as it is used by ${deps.join(', ')}`);
    throw exc.vmInUse(
      vm.name,
      `Domain is in use: '${vm.name}';  see 'journalctl -u qubesd -e' in dom0 for details`,
    );
  }
  model.state.vms = model.state.vms.filter((v) => v !== vm);
  try {
    await removeFromDisk(model, vm);
  } catch (error) {
    ctx.log.error({ err: error }, `Error while removing VM '${vm.name}' files`);
  }
  if (vm.klass === 'DispVM') forgetPreload(ctx, vm);
}

/** DispVM.on_domain_remove_from_disk: a removed qube leaves its template's preload list. */
function forgetPreload(
  ctx: Pick<CallContext, 'model'> & { readonly dispvms?: Disposables },
  vm: VmState,
): void {
  const template = typeof vm.props.template === 'string' ? ctx.model.findVm(vm.props.template) : undefined;
  if (template && preloadList(template).includes(vm.name))
    setPreloadList(
      template,
      preloadList(template).filter((name) => name !== vm.name),
    );
  ctx.dispvms?.requested.delete(vm.name);
  ctx.dispvms?.completions.get(vm.name)?.resolve();
  ctx.dispvms?.completions.delete(vm.name);
  ctx.dispvms?.record(vm.name, 'removed');
}

/** QubesVM.start: a running qube is left alone; the netvm is started first. */
export async function startVm(ctx: CallContext, vm: VmState): Promise<void> {
  const { model } = ctx;
  if (vm.klass === 'AdminVM') throw exc.vmNotHalted(vm.name, 'Cannot start Dom0 fake domain!');
  if (vm.powerState !== 'Halted') return;
  const prohibit = vm.features['prohibit-start'];
  if (prohibit) throw exc.generic(`Qube start is prohibited. Rationale: ${prohibit}`);
  const netvm = getVmRef(model, { kind: 'vm', vm }, 'netvm');
  if (netvm && netvm.klass !== 'AdminVM' && !model.isActive(netvm)) await startVm(ctx, netvm);
  vm.powerState = 'Transient';
  await ctx.save();
  const disposable = vm.klass === 'DispVM';
  try {
    if (disposable) {
      ctx.dispvms.record(vm.name, 'starting');
      await ctx.dispvms.wait(ctx.dispvms.timing.startMs);
      // Killed while it started: do not bring it up behind the killer's back.
      if (vm.powerState !== 'Transient') throw new Error('the qube was stopped while it started');
    }
    await ctx.hooks.onStart?.(vm);
  } catch (error) {
    vm.powerState = 'Halted';
    await ctx.save();
    throw exc.generic(`Start failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (vm.powerState === 'Transient') vm.powerState = 'Running';
  if (disposable) ctx.dispvms.record(vm.name, 'started');
}

/** The domain-shutdown handling: hooks, then auto_cleanup of a disposable. */
async function halted(ctx: CallContext, vm: VmState): Promise<void> {
  vm.powerState = 'Halted';
  await stopVolumes(ctx.model, vm);
  await ctx.save();
  try {
    await ctx.hooks.onStop?.(vm);
  } catch (error) {
    ctx.log.error({ err: error }, `stop hook failed for ${vm.name}`);
  }
  if (vm.klass === 'DispVM' && getValue(ctx.model, { kind: 'vm', vm }, 'auto_cleanup') === true) {
    ctx.dispvms.record(vm.name, 'stopped');
    // qubesd's kill() returns once the domain-shutdown handlers, this removal among them, ran.
    await ctx.dispvms.wait(ctx.dispvms.timing.cleanupMs).catch(() => undefined);
    await removeVm(ctx, vm);
  }
}

export async function shutdownVm(ctx: CallContext, vm: VmState, force: boolean): Promise<void> {
  // AdminVM.shutdown() takes no force/wait arguments: the API call dies with a TypeError.
  if (vm.klass === 'AdminVM')
    throw new UnhandledServerError('AdminVM.shutdown() got an unexpected keyword argument');
  if (ctx.model.isHalted(vm)) throw exc.vmNotStarted(vm.name);
  if (getValue(ctx.model, { kind: 'vm', vm }, 'provides_network') === true) {
    const running = connectedVms(ctx.model, vm).filter((other) => ctx.model.isActive(other));
    if (running.length > 0 && !force)
      throw exc.vmInUse(
        vm.name,
        `There are other VMs connected to this VM: ${running.map((o) => o.name).join(', ')}`,
      );
  }
  if (vm.powerState === 'Paused' && !force) throw exc.vmNotRunning(vm.name);
  await halted(ctx, vm);
}

export async function killVm(ctx: CallContext, vm: VmState): Promise<void> {
  if (vm.klass === 'AdminVM') throw new QubesApiError('QubesVMError', 'Cannot kill Dom0 fake domain!');
  if (!ctx.model.isActive(vm)) throw exc.vmNotStarted(vm.name);
  await halted(ctx, vm);
}

/** DispVM.from_appvm: a new disposable named dispN with auto_cleanup. */
export async function createDisposable(ctx: CallContext, appvm: VmState | null): Promise<VmState> {
  const { model } = ctx;
  if (!appvm) throw new UnhandledServerError("'NoneType' object has no attribute 'name'");
  if (getValue(model, { kind: 'vm', vm: appvm }, 'template_for_dispvms') !== true)
    throw exc.value(
      `template for disposable (${appvm.name}) needs to be an AppVM with template_for_dispvms=True`,
    );
  const used = new Set(model.state.vms.map((vm) => vm.props.dispid));
  let dispid = 0;
  for (let attempt = 0; attempt < MAX_DISPID; attempt++) {
    const candidate = randomInt(1, MAX_DISPID);
    if (!used.has(candidate) && !model.findVm(`disp${candidate}`)) {
      dispid = candidate;
      break;
    }
  }
  if (dispid === 0) throw exc.generic('Failed to find an unused dispid');
  const label = getValue(model, { kind: 'vm', vm: appvm }, 'label');
  return addNewVm(model, {
    klass: 'DispVM',
    name: `disp${dispid}`,
    label: typeof label === 'string' ? label : 'red',
    template: appvm,
    props: { dispid, auto_cleanup: true },
  });
}
