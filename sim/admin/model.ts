/**
 * Queries over the simulated qubes.xml that several API calls share: lookups with Qubes'
 * exceptions, power states, labels, pools and the VM-reference graph.
 */
import { exc } from './errors.ts';
import type { LabelState, PoolState, PropValue, QubesState, VmState } from './state.ts';

export type Holder = { readonly kind: 'app' } | { readonly kind: 'vm'; readonly vm: VmState };
export const APP: Holder = { kind: 'app' };

/**
 * How the property engine reads a property (properties.ts getValue, getVmRef). The model carries
 * it so that the property tables' defaults and setters can read other properties without
 * importing the engine, which imports the tables (property-types.ts).
 */
export interface PropertyReader {
  /** The value, or undefined where Python raises AttributeError (no value, no default). */
  value(model: QubesModel, holder: Holder, name: string): PropValue | undefined;
  /** A VM-valued property, resolved to the VM (null for None or unset). */
  vmRef(model: QubesModel, holder: Holder, name: string): VmState | null;
}

export class QubesModel {
  constructor(
    readonly dir: string,
    public state: QubesState,
    /** The property engine's reader (properties.ts PROPERTY_READER). */
    readonly properties: PropertyReader,
  ) {}

  findVm(name: string): VmState | undefined {
    return this.state.vms.find((vm) => vm.name === name);
  }

  findVmByUuid(uuid: string): VmState | undefined {
    return this.state.vms.find((vm) => vm.uuid === uuid);
  }

  vm(name: string): VmState {
    const vm = this.findVm(name);
    if (!vm) throw exc.vmNotFound(name);
    return vm;
  }

  /** Sorted by name, as qubes.app.VMCollection iterates. */
  vms(): VmState[] {
    return [...this.state.vms].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** qubes.app.Qubes.get_label: by index, then by name, then a numeric string as index. */
  label(key: string | number): LabelState {
    const labels = this.state.labels;
    const found =
      (typeof key === 'number' ? labels.find((l) => l.index === key) : undefined) ??
      labels.find((l) => l.name === key) ??
      (typeof key === 'string' && /^\s*[+-]?\d+\s*$/.test(key)
        ? labels.find((l) => l.index === Number(key))
        : undefined);
    if (!found) throw exc.labelNotFound(String(key));
    return found;
  }

  findPool(name: string): PoolState | undefined {
    return this.state.pools.find((p) => p.name === name);
  }

  /** qubes.app.Qubes.get_pool. */
  pool(name: string): PoolState {
    const pool = this.findPool(name);
    if (!pool) throw exc.generic(`Unknown storage pool ${name}`);
    return pool;
  }

  isHalted(vm: VmState): boolean {
    return vm.powerState === 'Halted';
  }

  /** libvirt's isActive(): a paused or starting domain is active too. */
  isActive(vm: VmState): boolean {
    return vm.powerState !== 'Halted';
  }

  nextQid(): number {
    const used = new Set(this.state.vms.map((vm) => vm.qid));
    // qubes.config.max_qid
    for (let qid = 1; qid < 254; qid++) if (!used.has(qid)) return qid;
    throw exc.generic('Cannot find unused qid!');
  }
}
