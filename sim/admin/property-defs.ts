/**
 * Which properties each class has, their defaults and setters, after qubes/app.py (global),
 * qubes/vm/qubesvm.py, qubes/vm/mix/net.py, qubes/vm/mix/dvmtemplate.py, qubes/vm/appvm.py,
 * qubes/vm/dispvm.py, qubes/vm/templatevm.py and qubes/vm/adminvm.py.
 */
import { exc, pyRepr } from './errors.ts';
import type { Holder, QubesModel } from './model.ts';
import { getValue, getVmRef } from './properties.ts';
import type { PropValue, VmClass, VmState } from './state.ts';

export type PropType = 'vm' | 'int' | 'bool' | 'label' | 'str';

export interface PropDef {
  readonly name: string;
  readonly type: PropType;
  /** Absent: no default, reading an unset value is Python's AttributeError. */
  readonly default?: (model: QubesModel, holder: Holder) => PropValue;
  /** A stateless property, computed on every read and never set. */
  readonly computed?: (model: QubesModel, holder: Holder) => PropValue;
  /** qubes.property.forbidden as the setter. */
  readonly forbidden?: boolean;
  readonly allowNone?: boolean;
  readonly vmClasses?: readonly VmClass[];
  /** The setter and the property-pre-set handlers; returns the value to store. */
  readonly check?: (model: QubesModel, holder: Holder, value: PropValue) => PropValue;
  readonly beforeReset?: (model: QubesModel, holder: Holder) => void;
}

/** qubes.config.defaults */
export const DEFAULT_MEMORY_MIB = 400;
export const DEFAULT_MAXMEM_MIB = 4000;
export const DEFAULT_VCPUS = 2;
export const DEFAULT_TIMEOUT_SECONDS = 60;

const vmOf = (holder: Holder): VmState | null => (holder.kind === 'vm' ? holder.vm : null);

/** Every VM whose effective netvm is `vm` (QubesVM.connected_vms). */
export function connectedVms(model: QubesModel, vm: VmState): VmState[] {
  return model
    .vms()
    .filter((other) => other !== vm && getValue(model, { kind: 'vm', vm: other }, 'netvm') === vm.name);
}

/** qubes.app.VMCollection.get_vms_connected_to: the transitive closure of connected_vms. */
export function vmsConnectedTo(model: QubesModel, vm: VmState): Set<VmState> {
  const found = new Set<VmState>();
  const queue = [vm];
  while (queue.length > 0) {
    const current = queue.pop() as VmState;
    for (const other of connectedVms(model, current)) {
      if (!found.has(other)) {
        found.add(other);
        queue.push(other);
      }
    }
  }
  return found;
}

/** _default_with_template: a template-based qube inherits the value from its template. */
function withTemplate(
  prop: string,
  fallback: (model: QubesModel, holder: Holder) => PropValue,
): (model: QubesModel, holder: Holder) => PropValue {
  return (model, holder) => {
    if (holder.kind === 'vm' && (holder.vm.klass === 'AppVM' || holder.vm.klass === 'DispVM')) {
      const template = getVmRef(model, holder, 'template');
      if (template) return getValue(model, { kind: 'vm', vm: template }, prop) ?? null;
    }
    return fallback(model, holder);
  };
}

const app = (prop: string) => (model: QubesModel) => getValue(model, { kind: 'app' }, prop) ?? null;

function positive(name: string) {
  return (_m: QubesModel, holder: Holder, value: PropValue): PropValue => {
    if (typeof value !== 'number' || value <= 0) throw exc.propertyValue(`${name} must be positive`);
    return holder.kind === 'vm' ? value : value;
  };
}

/** qubes.vm.validate_disposable_template */
function dispvmTemplate(prop: string) {
  return (model: QubesModel, holder: Holder, value: PropValue): PropValue => {
    if (value === null) return value;
    const target = model.vm(String(value));
    if (getValue(model, { kind: 'vm', vm: target }, 'template_for_dispvms') !== true) {
      const where = holder.kind === 'app' ? 'system' : `qube ${pyRepr(holder.vm.name)}`;
      throw exc.propertyValue(
        `Cannot set invalid property to ${where}, ${prop} ${pyRepr(target.name)} has template_for_dispvms set to False`,
      );
    }
    return value;
  };
}

function poolSetter(model: QubesModel, _holder: Holder, value: PropValue): PropValue {
  if (!model.findPool(String(value))) throw exc.propertyValue('No such storage pool');
  return value;
}

function netvmSetter(model: QubesModel, holder: Holder, value: PropValue): PropValue {
  const self = vmOf(holder);
  if (value === null || !self) return value;
  const target = model.vm(String(value));
  if (getValue(model, { kind: 'vm', vm: target }, 'provides_network') !== true)
    throw exc.value(`The ${target.name} qube does not provide network`);
  if (target === self || vmsConnectedTo(model, self).has(target))
    throw exc.value('Loops in network are unsupported');
  if (model.isActive(self) && !model.isActive(target))
    throw exc.vmNotStarted(target.name, `Cannot dynamically attach to stopped qube ${target.name}`);
  return value;
}

const COMMON_VM: readonly PropDef[] = [
  { name: 'name', type: 'str', forbidden: true },
  { name: 'qid', type: 'int', forbidden: true },
  { name: 'uuid', type: 'str', forbidden: true },
  { name: 'klass', type: 'str', computed: (_m, h) => (h.kind === 'vm' ? h.vm.klass : null) },
  { name: 'label', type: 'label' },
];

const QUBES_VM: readonly PropDef[] = [
  ...COMMON_VM,
  {
    name: 'netvm',
    type: 'vm',
    allowNone: true,
    default: (m, h) => (vmOf(h)?.klass === 'TemplateVM' ? null : app('default_netvm')(m)),
    check: netvmSetter,
  },
  {
    name: 'provides_network',
    type: 'bool',
    default: () => false,
    check: (m, h, value) => {
      const self = vmOf(h);
      if (value === false && self && connectedVms(m, self).length > 0)
        throw exc.value("The qube is still used by other qubes, change theirs 'netvm' first");
      return value;
    },
  },
  {
    name: 'virt_mode',
    type: 'str',
    default: withTemplate('virt_mode', () => 'pvh'),
    check: (_m, _h, value) => {
      const mode = String(value).toLowerCase();
      if (!['hvm', 'pv', 'pvh'].includes(mode))
        throw exc.propertyValue('Invalid virtualization mode, supported values: hvm, pv, pvh');
      return mode;
    },
  },
  {
    name: 'kernel',
    type: 'str',
    default: withTemplate('kernel', app('default_kernel')),
    check: (_m, _h, value) => {
      if (String(value).includes('/')) throw exc.propertyValue("Kernel name cannot contain '/'");
      return value;
    },
  },
  { name: 'installed_by_rpm', type: 'bool', default: () => false },
  {
    name: 'memory',
    type: 'int',
    default: withTemplate('memory', () => DEFAULT_MEMORY_MIB),
    check: positive('memory'),
  },
  {
    name: 'maxmem',
    type: 'int',
    default: withTemplate('maxmem', () => DEFAULT_MAXMEM_MIB),
    check: (_m, _h, value) => {
      if (typeof value !== 'number' || value < 0) throw exc.propertyValue('maxmem must be positive or zero');
      return value;
    },
  },
  {
    name: 'vcpus',
    type: 'int',
    default: withTemplate('vcpus', () => DEFAULT_VCPUS),
    check: positive('vcpus'),
  },
  {
    name: 'qrexec_timeout',
    type: 'int',
    default: withTemplate('qrexec_timeout', app('default_qrexec_timeout')),
    check: positive('qrexec_timeout'),
  },
  {
    name: 'shutdown_timeout',
    type: 'int',
    default: withTemplate('shutdown_timeout', app('default_shutdown_timeout')),
    check: positive('shutdown_timeout'),
  },
  { name: 'autostart', type: 'bool', default: () => false },
  { name: 'debug', type: 'bool', default: () => false },
  { name: 'include_in_backups', type: 'bool', default: () => true },
  {
    name: 'default_user',
    type: 'str',
    default: withTemplate('default_user', () => 'user'),
    check: (_m, _h, value) => {
      if (!/^[A-Za-z0-9_\-+,.]*$/.test(String(value)))
        throw exc.propertyValue(
          'Username can contain only those characters: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+,.',
        );
      return value;
    },
  },
  {
    name: 'default_dispvm',
    type: 'vm',
    allowNone: true,
    default: app('default_dispvm'),
    check: dispvmTemplate('default_dispvm'),
  },
  {
    name: 'management_dispvm',
    type: 'vm',
    allowNone: true,
    default: withTemplate('management_dispvm', app('management_dispvm')),
    check: dispvmTemplate('management_dispvm'),
  },
  {
    name: 'updateable',
    type: 'bool',
    computed: (_m, h) => !(vmOf(h)?.klass === 'AppVM' || vmOf(h)?.klass === 'DispVM'),
  },
  {
    name: 'xid',
    type: 'int',
    computed: (m, h) => {
      const vm = vmOf(h);
      return vm && m.isActive(vm) ? vm.qid + 100 : -1;
    },
  },
];

const TEMPLATE_FOR_DISPVMS: PropDef = {
  name: 'template_for_dispvms',
  type: 'bool',
  default: () => false,
  check: (m, h, value) => {
    const self = vmOf(h);
    if (value === false && self) {
      const running = m
        .vms()
        .find((vm) => vm.klass === 'DispVM' && vm.props.template === self.name && m.isActive(vm));
      if (running) throw exc.vmNotHalted(running.name);
    }
    return value;
  },
};

const APP_VM: readonly PropDef[] = [
  ...QUBES_VM,
  {
    name: 'template',
    type: 'vm',
    vmClasses: ['TemplateVM'],
    check: (m, h, value) => {
      const self = vmOf(h);
      if (self && !m.isHalted(self))
        throw exc.vmNotHalted(self.name, 'Cannot change template while qube is running');
      return value;
    },
    beforeReset: (m) => {
      const dflt = getValue(m, { kind: 'app' }, 'default_template');
      if (typeof dflt === 'string' && dflt !== '')
        throw exc.value(`Cannot unset template. You can set it to the current default (${dflt}) instead`);
      throw exc.value('Cannot unset template');
    },
  },
  TEMPLATE_FOR_DISPVMS,
];

const DISP_VM: readonly PropDef[] = [
  ...QUBES_VM.filter((d) => d.name !== 'default_dispvm'),
  {
    name: 'default_dispvm',
    type: 'vm',
    allowNone: true,
    default: withTemplate('default_dispvm', app('default_dispvm')),
    check: dispvmTemplate('default_dispvm'),
  },
  {
    name: 'template',
    type: 'vm',
    vmClasses: ['AppVM'],
    check: (m, _h, value) => {
      const target = m.vm(String(value));
      if (getValue(m, { kind: 'vm', vm: target }, 'template_for_dispvms') !== true)
        throw exc.propertyValue('template for disposable must have template_for_dispvms=True');
      return value;
    },
  },
  { name: 'dispid', type: 'int', forbidden: true },
  { name: 'auto_cleanup', type: 'bool', default: () => false },
];

const ADMIN_VM: readonly PropDef[] = [
  ...COMMON_VM,
  {
    name: 'default_dispvm',
    type: 'vm',
    allowNone: true,
    default: app('default_dispvm'),
    check: dispvmTemplate('default_dispvm'),
  },
  { name: 'include_in_backups', type: 'bool', default: () => true },
  { name: 'updateable', type: 'bool', computed: () => true },
  { name: 'xid', type: 'int', computed: () => 0 },
];

function globalVm(name: string, extra: Partial<PropDef> = {}): PropDef {
  return { name, type: 'vm', allowNone: true, default: () => null, ...extra };
}

const GLOBAL: readonly PropDef[] = [
  globalVm('default_guivm', { default: () => 'dom0' }),
  globalVm('default_audiovm', { default: () => 'dom0' }),
  globalVm('default_netvm', {
    check: (m, _h, value) => {
      if (value === null) return value;
      const target = m.vm(String(value));
      for (const vm of m.vms()) {
        if (vm.klass === 'AdminVM' || Object.hasOwn(vm.props, 'netvm')) continue;
        if (target === vm || vmsConnectedTo(m, vm).has(target))
          throw exc.propertyValue(`Network loop on '${vm.name}'`);
      }
      return value;
    },
  }),
  { name: 'default_template', type: 'vm', allowNone: true, vmClasses: ['TemplateVM'] },
  globalVm('updatevm'),
  globalVm('clockvm'),
  { name: 'default_kernel', type: 'str' },
  globalVm('default_dispvm', { check: dispvmTemplate('default_dispvm') }),
  globalVm('management_dispvm', { check: dispvmTemplate('management_dispvm') }),
  {
    name: 'default_pool',
    type: 'str',
    // _default_pool: the pool named 'default', else the file pool at /var/lib/qubes.
    default: (m) => (m.findPool('default') ?? m.state.pools.find((p) => p.driver === 'file'))?.name ?? null,
    check: poolSetter,
  },
  ...['private', 'root', 'volatile', 'kernel'].map((kind): PropDef => ({
    name: `default_pool_${kind}`,
    type: 'str',
    default: app('default_pool'),
    check: poolSetter,
  })),
  { name: 'default_qrexec_timeout', type: 'int', default: () => DEFAULT_TIMEOUT_SECONDS },
  { name: 'default_shutdown_timeout', type: 'int', default: () => DEFAULT_TIMEOUT_SECONDS },
  { name: 'stats_interval', type: 'int', default: () => 3 },
  { name: 'check_updates_vm', type: 'bool', default: () => true },
];

const BY_CLASS: Record<VmClass | 'app', readonly PropDef[]> = {
  app: GLOBAL,
  AdminVM: ADMIN_VM,
  AppVM: APP_VM,
  DispVM: DISP_VM,
  StandaloneVM: [...QUBES_VM, TEMPLATE_FOR_DISPVMS],
  TemplateVM: QUBES_VM,
};

export function propertyDefs(klass: VmClass | 'app'): readonly PropDef[] {
  return BY_CLASS[klass];
}
