import { describe, expect, it } from 'vitest';
import { call, ok } from '../helpers/admin-raw-client.ts';
import { useSeededDaemon } from '../helpers/admin-daemon.ts';

const admin = useSeededDaemon();

const get = (dest: string, prop: string) =>
  ok(admin.socket, { method: 'admin.vm.property.Get', dest, arg: prop });
const set = (dest: string, prop: string, value: string) =>
  call(admin.socket, { method: 'admin.vm.property.Set', dest, arg: prop, payload: value });
const gget = (prop: string) => ok(admin.socket, { method: 'admin.property.Get', arg: prop });
const gset = (prop: string, value: string) =>
  call(admin.socket, { method: 'admin.property.Set', arg: prop, payload: value });

describe('VM properties', () => {
  it('renders default=True|False type=T value, None as nothing after the space', async () => {
    expect(await get('work', 'netvm')).toBe('default=True type=vm sys-firewall');
    expect(await get('work', 'template')).toBe('default=False type=vm fedora-41-xfce');
    expect(await get('sys-net', 'netvm')).toBe('default=False type=vm ');
    expect(await get('fedora-41-xfce', 'netvm')).toBe('default=True type=vm ');
    expect(await get('fedora-41-xfce', 'installed_by_rpm')).toBe('default=False type=bool True');
    expect(await get('work', 'label')).toBe('default=False type=label blue');
    expect(await get('work', 'memory')).toBe('default=True type=int 400');
    expect(await get('work', 'klass')).toBe('default=True type=str AppVM');
    expect(await get('default-dvm', 'template_for_dispvms')).toBe('default=False type=bool True');
  });

  it('names a missing property as Qubes does', async () => {
    expect(
      await call(admin.socket, { method: 'admin.vm.property.Get', dest: 'work', arg: 'nosuch' }),
    ).toMatchObject({
      type: 'QubesNoSuchPropertyError',
      message: "Invalid property 'nosuch' of work",
    });
    expect(await call(admin.socket, { method: 'admin.property.Get', arg: 'nosuch' })).toMatchObject({
      type: 'QubesNoSuchPropertyError',
      message: "Invalid property 'nosuch' of Qubes",
    });
  });

  it("accepts Qubes' boolean spellings and nothing else", async () => {
    for (const [spelling, value] of [
      ['yes', 'True'],
      ['OFF', 'False'],
      ['1', 'True'],
      ['false', 'False'],
      ['On', 'True'],
    ]) {
      expect(await set('work', 'autostart', spelling!)).toEqual({ kind: 'ok', content: '' });
      expect(await get('work', 'autostart')).toBe(`default=False type=bool ${value}`);
    }
    expect(await set('work', 'autostart', 'maybe')).toMatchObject({
      type: 'QubesValueError',
      message: "Invalid literal for boolean property: 'maybe'",
    });
    expect(await set('work', 'autostart', '')).toMatchObject({ type: 'QubesValueError' });
  });

  it('parses ints like Python and applies the setters', async () => {
    expect(await set('work', 'memory', ' 800 ')).toEqual({ kind: 'ok', content: '' });
    expect(await get('work', 'memory')).toBe('default=False type=int 800');
    expect(await set('work', 'memory', '12abc')).toMatchObject({
      type: 'QubesValueError',
      message: 'Failed to parse property value as int',
    });
    expect(await set('work', 'memory', '0')).toMatchObject({
      type: 'QubesPropertyValueError',
      message: 'memory must be positive',
    });
    expect(await set('work', 'maxmem', '-1')).toMatchObject({
      type: 'QubesPropertyValueError',
      message: 'maxmem must be positive or zero',
    });
    expect(await set('work', 'vcpus', '\u00e9')).toMatchObject({
      type: 'QubesValueError',
      message: 'Non-ASCII bytes in property value',
    });
  });

  it('Reset returns to the default; GetDefault tells it', async () => {
    await set('work', 'qrexec_timeout', '5');
    expect(await get('work', 'qrexec_timeout')).toBe('default=False type=int 5');
    expect(
      await ok(admin.socket, { method: 'admin.vm.property.GetDefault', dest: 'work', arg: 'qrexec_timeout' }),
    ).toBe('type=int 60');
    await ok(admin.socket, { method: 'admin.vm.property.Reset', dest: 'work', arg: 'qrexec_timeout' });
    expect(await get('work', 'qrexec_timeout')).toBe('default=True type=int 60');
    // A template-based qube inherits from its template.
    await set('fedora-41-xfce', 'qrexec_timeout', '90');
    expect(await get('work', 'qrexec_timeout')).toBe('default=True type=int 90');
    // No default: an empty OK reply.
    expect(
      await ok(admin.socket, { method: 'admin.vm.property.GetDefault', dest: 'work', arg: 'template' }),
    ).toBe('');
  });

  it('requires VM references to exist and be of the right kind', async () => {
    expect(await set('work', 'netvm', 'ghost')).toMatchObject({
      type: 'QubesPropertyValueError',
      message: "Can't set netvm to non-existing qube ghost",
    });
    expect(await set('work', 'netvm', '9lives')).toMatchObject({ type: 'QubesValueError' });
    expect(await set('work', 'netvm', 'personal')).toMatchObject({
      type: 'QubesValueError',
      message: 'The personal qube does not provide network',
    });
    expect(await set('sys-net', 'netvm', 'sys-firewall')).toMatchObject({
      type: 'QubesValueError',
      message: 'Loops in network are unsupported',
    });
    expect(await set('work', 'template', 'personal')).toMatchObject({
      type: 'QubesPropertyValueError',
      message: "wrong VM class: domains['personal'] is of type AppVM and not TemplateVM",
    });
    expect(await set('work', 'template', '')).toMatchObject({ type: 'QubesPropertyValueError' });
    expect(await set('work', 'netvm', '')).toEqual({ kind: 'ok', content: '' });
    expect(await get('work', 'netvm')).toBe('default=False type=vm ');
    await ok(admin.socket, { method: 'admin.vm.property.Reset', dest: 'work', arg: 'netvm' });
    expect(await get('work', 'netvm')).toBe('default=True type=vm sys-firewall');
  });

  it('allows a disposable template only where one is expected', async () => {
    expect(await set('work', 'default_dispvm', 'personal')).toMatchObject({
      type: 'QubesPropertyValueError',
      message:
        "Cannot set invalid property to qube 'work', default_dispvm 'personal' has template_for_dispvms set to False",
    });
    expect(await set('work', 'default_dispvm', 'default-dvm')).toEqual({ kind: 'ok', content: '' });
  });

  it('checks labels exist', async () => {
    expect(await set('work', 'label', 'mauve')).toMatchObject({
      type: 'QubesLabelNotFoundError',
      message: 'Label does not exist: mauve',
    });
    expect(await set('work', 'label', 'green')).toEqual({ kind: 'ok', content: '' });
    expect(await get('work', 'label')).toBe('default=False type=label green');
  });

  it('refuses to change the template of a running qube and to unset it', async () => {
    await ok(admin.socket, { method: 'admin.vm.Start', dest: 'personal' });
    expect(await set('personal', 'template', 'debian-12-xfce')).toMatchObject({
      type: 'QubesVMNotHaltedError',
      message: 'Cannot change template while qube is running',
    });
    await ok(admin.socket, { method: 'admin.vm.Kill', dest: 'personal' });
    expect(await set('personal', 'template', 'debian-12-xfce')).toEqual({ kind: 'ok', content: '' });
    expect(
      await call(admin.socket, { method: 'admin.vm.property.Reset', dest: 'personal', arg: 'template' }),
    ).toMatchObject({
      type: 'QubesValueError',
      message: 'Cannot unset template. You can set it to the current default (fedora-41-xfce) instead',
    });
  });

  it('refuses read-only properties', async () => {
    expect(await set('work', 'name', 'other')).toMatchObject({
      type: 'QubesPropertyValueError',
      message: "property 'name' on AppVM instance cannot be set",
    });
  });
});

describe('global properties', () => {
  it('has the seeded values', async () => {
    expect(await gget('updatevm')).toBe('default=False type=vm sys-firewall');
    expect(await gget('default_dispvm')).toBe('default=False type=vm default-dvm');
    expect(await gget('management_dispvm')).toBe('default=False type=vm default-dvm');
    expect(await gget('default_template')).toBe('default=False type=vm fedora-41-xfce');
    expect(await gget('default_pool')).toBe('default=False type=str varlibqubes');
    expect(await gget('default_pool_root')).toBe('default=True type=str varlibqubes');
    expect(await gget('default_netvm')).toBe('default=False type=vm sys-firewall');
    expect(await gget('clockvm')).toBe('default=False type=vm sys-net');
  });

  it('applies the global setters', async () => {
    expect(await gset('default_dispvm', 'work')).toMatchObject({
      type: 'QubesPropertyValueError',
      message:
        "Cannot set invalid property to system, default_dispvm 'work' has template_for_dispvms set to False",
    });
    expect(await gset('default_template', 'work')).toMatchObject({ type: 'QubesPropertyValueError' });
    expect(await gset('default_pool', 'nopool')).toMatchObject({
      type: 'QubesPropertyValueError',
      message: 'No such storage pool',
    });
    expect(await gset('default_pool', 'pool2')).toEqual({ kind: 'ok', content: '' });
    expect(await gget('default_pool_private')).toBe('default=True type=str pool2');
    await ok(admin.socket, { method: 'admin.property.Reset', arg: 'default_pool' });
    expect(await gget('default_pool')).toBe('default=True type=str varlibqubes');
    expect(await gset('updatevm', '')).toEqual({ kind: 'ok', content: '' });
    expect(await gget('updatevm')).toBe('default=False type=vm ');
    expect(await gset('updatevm', 'sys-firewall')).toEqual({ kind: 'ok', content: '' });
    expect(
      await call(admin.socket, { method: 'admin.property.Get', dest: 'work', arg: 'updatevm' }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: 'expected destination to be AdminVM',
    });
  });
});
