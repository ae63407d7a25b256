/**
 * Building blocks of the property tables: Qubes' defaults, and the setters several classes share
 * (qubes/vm/__init__.py, qubes/vm/qubesvm.py, qubes/app.py). Values of other properties are read
 * through the model's reader (property-types.ts), not by importing the engine.
 */
import { exc, pyRepr } from './errors.ts';
import type { Holder, QubesModel } from './model.ts';
import type { PropValue, VmState } from './state.ts';

export type { PropDef, PropType } from './property-types.ts';

/** Another property's value, read through the engine the model was given. */
export function getValue(model: QubesModel, holder: Holder, name: string): PropValue | undefined {
  return model.properties.value(model, holder, name);
}

/** Another VM-valued property, resolved to the VM (null for None or unset). */
export function getVmRef(model: QubesModel, holder: Holder, name: string): VmState | null {
  return model.properties.vmRef(model, holder, name);
}

/** qubes.config.defaults */
export const DEFAULT_MEMORY_MIB = 400;
export const DEFAULT_MAXMEM_MIB = 4000;
export const DEFAULT_VCPUS = 2;
export const DEFAULT_TIMEOUT_SECONDS = 60;

export const vmOf = (holder: Holder): VmState | null => (holder.kind === 'vm' ? holder.vm : null);

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
export function withTemplate(
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

export const app = (prop: string) => (model: QubesModel) => getValue(model, { kind: 'app' }, prop) ?? null;

export function positive(name: string) {
  return (_m: QubesModel, _h: Holder, value: PropValue): PropValue => {
    if (typeof value !== 'number' || value <= 0) throw exc.propertyValue(`${name} must be positive`);
    return value;
  };
}

/** qubes.vm.validate_disposable_template */
export function dispvmTemplate(prop: string) {
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

export function poolSetter(model: QubesModel, _holder: Holder, value: PropValue): PropValue {
  if (!model.findPool(String(value))) throw exc.propertyValue('No such storage pool');
  return value;
}

export function netvmSetter(model: QubesModel, holder: Holder, value: PropValue): PropValue {
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
