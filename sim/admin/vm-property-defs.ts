/**
 * The properties of each VM class: qubes/vm/qubesvm.py, qubes/vm/mix/net.py,
 * qubes/vm/mix/dvmtemplate.py, qubes/vm/appvm.py, qubes/vm/dispvm.py, qubes/vm/templatevm.py
 * and qubes/vm/adminvm.py.
 */
import { exc } from './errors.ts';
import {
  app,
  getValue,
  connectedVms,
  DEFAULT_MAXMEM_MIB,
  DEFAULT_MEMORY_MIB,
  DEFAULT_VCPUS,
  dispvmTemplate,
  netvmSetter,
  positive,
  vmOf,
  withTemplate,
  type PropDef,
} from './property-helpers.ts';

const COMMON_VM: readonly PropDef[] = [
  { name: 'name', type: 'str', forbidden: true },
  { name: 'qid', type: 'int', forbidden: true },
  { name: 'uuid', type: 'str', forbidden: true },
  { name: 'klass', type: 'str', computed: (_m, h) => (h.kind === 'vm' ? h.vm.klass : null) },
  { name: 'label', type: 'label' },
];

export const QUBES_VM: readonly PropDef[] = [
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

export const TEMPLATE_FOR_DISPVMS: PropDef = {
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

export const APP_VM: readonly PropDef[] = [
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

export const DISP_VM: readonly PropDef[] = [
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

export const ADMIN_VM: readonly PropDef[] = [
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
