/**
 * What depends on a VM, as qubesadmin.utils.vm_dependencies finds it: global properties that
 * name it, and VM properties explicitly set to it (a default value does not count).
 */
import type { AdminClient } from './admin-client.ts';

export const GLOBAL_VM_PROPERTIES = [
  'default_template',
  'default_dispvm',
  'default_netvm',
  'management_dispvm',
  'updatevm',
  'clockvm',
] as const;
export const VM_PROPERTIES = ['template', 'netvm', 'default_dispvm', 'management_dispvm'] as const;

export interface Dependency {
  /** undefined: a global property. */
  readonly holder: string | undefined;
  readonly property: string;
}

export async function vmDependencies(admin: AdminClient, vm: string): Promise<Dependency[]> {
  const result: Dependency[] = [];
  for (const property of GLOBAL_VM_PROPERTIES) {
    try {
      if ((await admin.getGlobalProperty(property)).value === vm)
        result.push({ holder: undefined, property });
    } catch {
      // A property this Qubes does not have.
    }
  }
  for (const other of await admin.listVms()) {
    if (other.name === vm || other.klass === 'AdminVM') continue;
    for (const property of VM_PROPERTIES) {
      try {
        const value = await admin.getProperty(other.name, property);
        if (!value.isDefault && value.value === vm) result.push({ holder: other.name, property });
      } catch {
        // Not a property of this class of VM.
      }
    }
  }
  return result;
}

export function describeDependency(d: Dependency): string {
  return d.holder === undefined ? `global property ${d.property}` : `${d.holder} (${d.property})`;
}
