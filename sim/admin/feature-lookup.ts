/**
 * A feature as Qubes looks it up through a qube's template or netvm
 * (qubes.features.Features._recursive_check: check_with_template, check_with_netvm, and the
 * ...AndAdminVM variants that fall back to dom0's features). One walk for the Admin API's
 * feature.CheckWith* calls and for qubesd's own checks (the preload-dispvm-max handler).
 */
import type { Holder, QubesModel } from './model.ts';
import { findDef, getVmRef } from './properties.ts';
import type { VmState } from './state.ts';

/** The feature's value on `vm`, else along `attr` (no walk when null), else dom0's if `adminvm`. */
export function lookUpFeature(
  model: QubesModel,
  vm: VmState,
  feature: string,
  attr: 'template' | 'netvm' | null,
  adminvm: boolean,
): string | undefined {
  let subject: VmState | null = vm;
  const seen = new Set<VmState>();
  while (subject && !seen.has(subject)) {
    seen.add(subject);
    const value = subject.features[feature];
    if (value !== undefined) return value;
    if (attr === null) break;
    const holder: Holder = { kind: 'vm', vm: subject };
    subject = findDef(holder, attr) ? getVmRef(model, holder, attr) : null;
  }
  if (adminvm) {
    const dom0 = model.findVm('dom0');
    if (dom0 && dom0 !== vm) return dom0.features[feature];
  }
  return undefined;
}
