/**
 * Which properties each holder has: the global ones of qubes/app.py here, the VM classes' in
 * vm-property-defs.ts.
 */
import { exc } from './errors.ts';
import type { VmClass } from './state.ts';
import {
  app,
  dispvmTemplate,
  DEFAULT_TIMEOUT_SECONDS,
  poolSetter,
  vmsConnectedTo,
  type PropDef,
} from './property-helpers.ts';
import { ADMIN_VM, APP_VM, DISP_VM, QUBES_VM, TEMPLATE_FOR_DISPVMS } from './vm-property-defs.ts';

export type { PropDef, PropType } from './property-types.ts';

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
