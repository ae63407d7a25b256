/**
 * The property engine of qubes/__init__.py (qubes.property, VMProperty) as the Admin API
 * exposes it: Get renders `default=True|False type=T value`, Set sanitises the payload, runs
 * the property's setter and pre-set checks, Reset returns to the default.
 */
import { exc, pyRepr } from './errors.ts';
import type { Holder, QubesModel } from './model.ts';
import { ascii, isAscii, isPrintable, parsePythonInt, parseQubesBool, validateVmName } from './names.ts';
import { propertyDefs } from './property-defs.ts';
import type { PropDef, PropertyReader } from './property-types.ts';
import type { PropValue, VmState } from './state.ts';

export function holderName(holder: Holder): string {
  return holder.kind === 'app' ? 'Qubes' : holder.vm.name;
}

export function propertyList(holder: Holder): readonly PropDef[] {
  return propertyDefs(holder.kind === 'app' ? 'app' : holder.vm.klass);
}

export function findDef(holder: Holder, name: string): PropDef | undefined {
  return propertyList(holder).find((d) => d.name === name);
}

function store(holder: Holder, model: QubesModel): Record<string, PropValue> {
  return holder.kind === 'app' ? model.state.props : holder.vm.props;
}

function intrinsic(holder: Holder, name: string): PropValue | undefined {
  if (holder.kind !== 'vm') return undefined;
  const vm = holder.vm;
  if (name === 'name') return vm.name;
  if (name === 'qid') return vm.qid;
  if (name === 'uuid') return vm.uuid;
  return undefined;
}

/** The value, or undefined where Python raises AttributeError (no value, no default). */
export function getValue(model: QubesModel, holder: Holder, name: string): PropValue | undefined {
  const def = findDef(holder, name);
  if (!def) return undefined;
  const own = intrinsic(holder, name);
  if (own !== undefined) return own;
  if (def.computed) return def.computed(model, holder);
  const values = store(holder, model);
  if (Object.hasOwn(values, name)) return values[name];
  return def.default ? def.default(model, holder) : undefined;
}

export function isDefault(model: QubesModel, holder: Holder, name: string): boolean {
  if (intrinsic(holder, name) !== undefined) return false;
  return !Object.hasOwn(store(holder, model), name);
}

/** A VM-valued property, resolved to the VM (null for None or unset). */
export function getVmRef(model: QubesModel, holder: Holder, name: string): VmState | null {
  const value = getValue(model, holder, name);
  return typeof value === 'string' && value !== '' ? (model.findVm(value) ?? null) : null;
}

/** The reader the model is built with: the definitions' defaults and setters read through it. */
export const PROPERTY_READER: PropertyReader = { value: getValue, vmRef: getVmRef };

export function renderValue(value: PropValue): string {
  if (value === null) return '';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

/** admin.vm.property.Get / admin.property.Get. */
export function serializeProperty(model: QubesModel, holder: Holder, def: PropDef): string {
  const value = getValue(model, holder, def.name);
  if (value === undefined) return `default=True type=${def.type} `;
  const dflt = isDefault(model, holder, def.name) ? 'True' : 'False';
  return `default=${dflt} type=${def.type} ${renderValue(value)}`;
}

/** admin.vm.property.GetDefault: null where Python's get_default raises AttributeError. */
export function serializeDefault(model: QubesModel, holder: Holder, def: PropDef): string | null {
  if (!def.default) return null;
  const value = def.default(model, holder);
  return `type=${def.type} ${renderValue(value)}`;
}

/** property.sanitize / VMProperty.sanitize: coarse checks on the untrusted payload. */
function sanitize(def: PropDef, untrusted: Uint8Array): string | number | boolean {
  if (def.type === 'vm') {
    if (!isAscii(untrusted)) throw exc.value('');
    const name = ascii(untrusted);
    if (name !== '') validateVmName(name);
    return name;
  }
  if (!isAscii(untrusted)) throw exc.value('Non-ASCII bytes in property value');
  const text = ascii(untrusted);
  if (def.type === 'bool') return parseQubesBool(text);
  if (def.type === 'int') {
    const n = parsePythonInt(text);
    if (n === null) throw exc.value('Failed to parse property value as int');
    return n;
  }
  if (!isPrintable(text)) throw exc.value('Invalid characters in property value');
  return text;
}

function className(holder: Holder): string {
  return holder.kind === 'app' ? 'Qubes' : holder.vm.klass;
}

/** admin.vm.property.Set / admin.property.Set, after the property was found to exist. */
export function setProperty(model: QubesModel, holder: Holder, def: PropDef, untrusted: Uint8Array): void {
  const sanitized = sanitize(def, untrusted);
  if (def.forbidden || def.computed || intrinsic(holder, def.name) !== undefined) {
    throw exc.propertyValue(`property ${pyRepr(def.name)} on ${className(holder)} instance cannot be set`);
  }
  let value: PropValue = sanitized;
  if (def.type === 'vm') {
    if (value === '') value = null;
    if (value === null) {
      if (!def.allowNone)
        throw exc.propertyValue(
          `Invalid value None for property ${pyRepr(def.name)} of ${holderName(holder)}`,
        );
    } else {
      const target = model.findVm(String(value));
      if (!target) throw exc.propertyValue(`Can't set ${def.name} to non-existing qube ${String(value)}`);
      if (def.vmClasses && !def.vmClasses.includes(target.klass))
        throw exc.propertyValue(
          `wrong VM class: domains[${pyRepr(target.name)}] is of type ${target.klass} and not ${def.vmClasses.join(' or ')}`,
        );
    }
  } else if (def.type === 'label') {
    const text = String(value);
    const key = text.startsWith('label-') ? Number(text.slice(6)) : text;
    value = model.label(key).name;
  }
  if (def.check) value = def.check(model, holder, value);
  store(holder, model)[def.name] = value;
}

/** admin.vm.property.Reset / admin.property.Reset. */
export function resetProperty(model: QubesModel, holder: Holder, def: PropDef): void {
  if (def.forbidden || def.computed || intrinsic(holder, def.name) !== undefined) {
    throw exc.propertyValue(`property ${pyRepr(def.name)} on ${className(holder)} instance cannot be set`);
  }
  if (def.beforeReset) def.beforeReset(model, holder);
  const values = store(holder, model);
  if (Object.hasOwn(values, def.name)) delete values[def.name];
}
