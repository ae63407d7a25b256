/**
 * The qubes a qrexec policy is evaluated against (sim/qrexec's SystemInfo), for the policy tests:
 * a VM with the fields Qubes reports for it, and a system of such VMs beside a running dom0.
 */
import type { SystemInfo, VmInfo } from '../../sim/qrexec/index.ts';

/** A VM as the policy engine sees it: no tags, halted, no template unless `extra` says so. */
export function policyVm(name: string, type: string, extra: Partial<VmInfo> = {}): [string, VmInfo] {
  return [
    name,
    {
      name,
      type,
      tags: [],
      defaultDispvm: null,
      templateForDispvms: false,
      powerState: 'Halted',
      template: null,
      ...extra,
    },
  ];
}

/** The system of `vms` and dom0 (AdminVM, running), as the policy engine is given it. */
export function policySystem(...vms: [string, VmInfo][]): SystemInfo {
  return { domains: new Map([policyVm('dom0', 'AdminVM', { powerState: 'Running' }), ...vms]) };
}
