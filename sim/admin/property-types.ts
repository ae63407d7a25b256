/**
 * The types of the property tables: a property's description (PropDef). The property modules
 * import each other in one direction only: these types, then the helpers (property-helpers.ts),
 * the definitions (vm-property-defs.ts, property-defs.ts), then the engine (properties.ts). A
 * default or setter that reads another property does so through the reader the model carries
 * (model.ts PropertyReader, the engine's getValue), so no definition imports the engine.
 */
import type { Holder, QubesModel } from './model.ts';
import type { PropValue, VmClass } from './state.ts';

export type { PropertyReader } from './model.ts';

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
