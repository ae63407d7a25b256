import { access, stat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { call, ok } from '../helpers/admin-raw-client.ts';
import { useSeededDaemon, volumeInfo } from '../helpers/admin-daemon.ts';

const logLines: string[] = [];
const sink = new Writable({ write: (c: Buffer, _e, cb) => (logLines.push(c.toString()), cb()) });
const admin = useSeededDaemon({ logger: pino({ level: 'info' }, sink) });

const state = async (vm: string) =>
  /state=(\w+)/.exec(await ok(admin.socket, { method: 'admin.vm.List', dest: vm }))?.[1];
const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

describe('admin.vm.Create', () => {
  it('creates a template with sparse volumes and a created-by tag', async () => {
    await ok(admin.socket, { method: 'admin.vm.Create.TemplateVM', payload: 'name=tpl-a label=black' });
    expect(await ok(admin.socket, { method: 'admin.vm.List', dest: 'tpl-a' })).toMatch(
      /^tpl-a class=TemplateVM state=Halted uuid=[0-9a-f-]{36}\n$/,
    );
    expect(await ok(admin.socket, { method: 'admin.vm.volume.List', dest: 'tpl-a' })).toBe(
      'root\nprivate\nvolatile\nkernel\n',
    );
    const root = await volumeInfo(admin.socket, 'tpl-a', 'root');
    expect(Object.keys(root)).toEqual([
      'pool',
      'vid',
      'size',
      'usage',
      'rw',
      'source',
      'path',
      'save_on_stop',
      'snap_on_start',
      'revisions_to_keep',
      'ephemeral',
      'is_outdated',
    ]);
    expect(root).toMatchObject({
      pool: 'varlibqubes',
      vid: 'vm-templates/tpl-a/root',
      size: String(10 * 2 ** 30),
      rw: 'True',
      source: '',
      save_on_stop: 'True',
      snap_on_start: 'False',
    });
    const st = await stat(root.path!);
    expect(st.size).toBe(10 * 2 ** 30);
    expect(st.blocks).toBe(0);
    expect(await ok(admin.socket, { method: 'admin.vm.tag.List', dest: 'tpl-a' })).toBe('created-by-dom0\n');
  });

  it('creates an AppVM on a template given as the argument, snapshotting its root', async () => {
    await ok(admin.socket, {
      method: 'admin.vm.Create.AppVM',
      arg: 'tpl-a',
      payload: 'name=app-a label=red',
    });
    const root = await volumeInfo(admin.socket, 'app-a', 'root');
    expect(root).toMatchObject({
      snap_on_start: 'True',
      save_on_stop: 'False',
      source: 'vm-templates/tpl-a/root',
    });
    expect(root.path).toBe((await volumeInfo(admin.socket, 'tpl-a', 'root')).path);
    expect(await ok(admin.socket, { method: 'admin.vm.property.Get', dest: 'app-a', arg: 'template' })).toBe(
      'default=False type=vm tpl-a',
    );
  });

  it('places volumes in the pool CreateInPool names', async () => {
    await ok(admin.socket, {
      method: 'admin.vm.CreateInPool.TemplateVM',
      payload: 'name=tpl-p2 label=black pool=pool2',
    });
    expect((await volumeInfo(admin.socket, 'tpl-p2', 'root')).pool).toBe('pool2');
    expect((await volumeInfo(admin.socket, 'tpl-p2', 'root')).path).toMatch(
      /pools\/pool2\/vm-templates\/tpl-p2\/root\.img$/,
    );
    await ok(admin.socket, {
      method: 'admin.vm.CreateInPool.TemplateVM',
      payload: 'name=tpl-mixed label=black pool:private=pool2',
    });
    expect((await volumeInfo(admin.socket, 'tpl-mixed', 'root')).pool).toBe('varlibqubes');
    expect((await volumeInfo(admin.socket, 'tpl-mixed', 'private')).pool).toBe('pool2');
    expect(
      await call(admin.socket, {
        method: 'admin.vm.CreateInPool.TemplateVM',
        payload: 'name=tpl-x label=black pool=nopool',
      }),
    ).toMatchObject({
      type: 'QubesException',
      message: 'Unknown storage pool nopool',
    });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.Create.TemplateVM',
        payload: 'name=tpl-x label=black pool=pool2',
      }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: "Pool option specified but 'allow_pool' is False",
    });
  });

  it('enforces the name rules', async () => {
    const cases: Array<[string, string]> = [
      ['a'.repeat(32), 'VM name must be shorter than 32 characters'],
      ['1abc', 'VM name cannot start with hyphen, underscore, dot or numbers'],
      ['-abc', 'VM name cannot start with hyphen, underscore, dot or numbers'],
      ['ab+c', 'VM name contains illegal characters'],
      ['Domain-0', "VM name cannot be 'Domain-0'"],
      ['none', "VM name cannot be 'none' nor 'default'"],
      ['default', "VM name cannot be 'none' nor 'default'"],
      ['stub-dm', 'VM name cannot end with -dm'],
    ];
    for (const [name, message] of cases) {
      expect(
        await call(admin.socket, {
          method: 'admin.vm.Create.TemplateVM',
          payload: `name=${name} label=black`,
        }),
        name,
      ).toMatchObject({ type: 'QubesValueError', message });
    }
    await ok(admin.socket, {
      method: 'admin.vm.Create.TemplateVM',
      payload: `name=${'b'.repeat(31)} label=black`,
    });
  });

  it('reports the other creation errors as Qubes does', async () => {
    expect(
      await call(admin.socket, { method: 'admin.vm.Create.TemplateVM', payload: 'name=work label=black' }),
    ).toMatchObject({ type: 'QubesVMAlreadyExistsError', message: 'Qube already exists: work' });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.Create.AppVM',
        arg: 'ghost',
        payload: 'name=n1 label=red',
      }),
    ).toMatchObject({ type: 'QubesVMNotFoundError', message: "No such domain: 'ghost'" });
    expect(
      await call(admin.socket, { method: 'admin.vm.Create.TemplateVM', payload: 'name=n1 label=mauve' }),
    ).toMatchObject({ type: 'QubesLabelNotFoundError', message: 'Label does not exist: untrusted label' });
    expect(
      await call(admin.socket, { method: 'admin.vm.Create.TemplateVM', payload: 'name=n1' }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: 'Creation requested without key: label',
    });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.Create.TemplateVM',
        arg: 'tpl-a',
        payload: 'name=n1 label=red',
      }),
    ).toMatchObject({ type: 'ProtocolError', message: 'TemplateVM cannot be based on template' });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.Create.TemplateVM',
        payload: 'name=n1 label=red name=n2',
      }),
    ).toMatchObject({ type: 'ProtocolError', message: 'Options must be unique' });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.Create.TemplateVM',
        payload: 'name=n1 label=red color=blue',
      }),
    ).toMatchObject({ type: 'ProtocolError', message: 'Options does not match: name, label, pool, pool:' });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.Create.AppVM',
        arg: 'work',
        payload: 'name=n1 label=red',
      }),
    ).toMatchObject({ type: 'QubesPropertyValueError' });
    expect(
      await call(admin.socket, { method: 'admin.vm.Create.Toaster', payload: 'name=n1 label=red' }),
    ).toMatchObject({ type: 'ProtocolError', message: "no such method: 'admin.vm.Create.Toaster'" });
    expect(await ok(admin.socket, { method: 'admin.vm.List' })).not.toMatch(/^n1 /m);
  });
});

describe('admin.vm.Remove', () => {
  it('refuses dom0, qubes installed by rpm, running qubes and qubes in use', async () => {
    expect(await call(admin.socket, { method: 'admin.vm.Remove' })).toMatchObject({
      type: 'QubesVMInUseError',
      message: "'dom0' cannot be removed",
    });
    expect(await call(admin.socket, { method: 'admin.vm.Remove', dest: 'fedora-41-xfce' })).toMatchObject({
      type: 'QubesVMInUseError',
      message: 'VM installed by package manager: fedora-41-xfce',
    });
    expect(await call(admin.socket, { method: 'admin.vm.Remove', dest: 'tpl-a' })).toMatchObject({
      type: 'QubesVMInUseError',
      message: "Domain is in use: 'tpl-a';  see 'journalctl -u qubesd -e' in dom0 for details",
    });
    expect(await call(admin.socket, { method: 'admin.vm.Remove', dest: 'sys-firewall' })).toMatchObject({
      type: 'QubesVMInUseError',
    });
    // The users are listed in qubesd's log (journalctl -u qubesd), not in the reply.
    expect(logLines.join('')).toContain('Cannot remove tpl-a as it is used by app-a:template');
    // work uses sys-firewall only by default, which does not count (get_qube_prop_deps).
    expect(logLines.join('')).toMatch(
      /Cannot remove sys-firewall as it is used by @GLOBAL:default_netvm, @GLOBAL:updatevm"/,
    );
    await ok(admin.socket, { method: 'admin.vm.Start', dest: 'app-a' });
    expect(await call(admin.socket, { method: 'admin.vm.Remove', dest: 'app-a' })).toMatchObject({
      type: 'QubesVMNotHaltedError',
      message: "Domain is not powered off: 'app-a'",
    });
    await ok(admin.socket, { method: 'admin.vm.Kill', dest: 'app-a' });
  });

  it('removes a qube and its files once nothing refers to it', async () => {
    const privatePath = (await volumeInfo(admin.socket, 'app-a', 'private')).path!;
    const templateRoot = (await volumeInfo(admin.socket, 'tpl-a', 'root')).path!;
    expect(await exists(privatePath)).toBe(true);
    await ok(admin.socket, { method: 'admin.vm.Remove', dest: 'app-a' });
    expect(await exists(privatePath)).toBe(false);
    expect(await exists(templateRoot)).toBe(true);
    await ok(admin.socket, { method: 'admin.vm.Remove', dest: 'tpl-a' });
    expect(await exists(templateRoot)).toBe(false);
    expect(await call(admin.socket, { method: 'admin.vm.List', dest: 'tpl-a' })).toMatchObject({
      type: 'QubesVMNotFoundError',
    });
  });

  it('lets installed_by_rpm be cleared first, as qvm-template remove does', async () => {
    await ok(admin.socket, { method: 'admin.vm.Create.TemplateVM', payload: 'name=tpl-rpm label=black' });
    await ok(admin.socket, {
      method: 'admin.vm.property.Set',
      dest: 'tpl-rpm',
      arg: 'installed_by_rpm',
      payload: 'True',
    });
    expect(await call(admin.socket, { method: 'admin.vm.Remove', dest: 'tpl-rpm' })).toMatchObject({
      type: 'QubesVMInUseError',
    });
    await ok(admin.socket, {
      method: 'admin.vm.property.Set',
      dest: 'tpl-rpm',
      arg: 'installed_by_rpm',
      payload: 'False',
    });
    await ok(admin.socket, { method: 'admin.vm.Remove', dest: 'tpl-rpm' });
  });
});

describe('power states', () => {
  it('starts the netvm chain first and refuses to stop a netvm in use', async () => {
    await ok(admin.socket, { method: 'admin.vm.Start', dest: 'work' });
    expect(await state('work')).toBe('Running');
    expect(await state('sys-firewall')).toBe('Running');
    expect(await state('sys-net')).toBe('Running');
    expect(await call(admin.socket, { method: 'admin.vm.Shutdown', dest: 'sys-firewall' })).toMatchObject({
      type: 'QubesVMInUseError',
      message: 'There are other VMs connected to this VM: work',
    });
    await ok(admin.socket, { method: 'admin.vm.Start', dest: 'work' });
    await ok(admin.socket, { method: 'admin.vm.Pause', dest: 'work' });
    expect(await state('work')).toBe('Paused');
    expect(await call(admin.socket, { method: 'admin.vm.Shutdown', dest: 'work' })).toMatchObject({
      type: 'QubesVMNotRunningError',
    });
    await ok(admin.socket, { method: 'admin.vm.Unpause', dest: 'work' });
    expect(await call(admin.socket, { method: 'admin.vm.Unpause', dest: 'work' })).toMatchObject({
      type: 'QubesVMNotPausedError',
      message: "Domain is not paused: 'work'",
    });
    await ok(admin.socket, { method: 'admin.vm.Shutdown', dest: 'work', arg: 'wait' });
    expect(
      await call(admin.socket, { method: 'admin.vm.Shutdown', dest: 'work', arg: 'later' }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: 'Argument must match: force, wait',
    });
    await ok(admin.socket, { method: 'admin.vm.Shutdown', dest: 'sys-firewall', arg: 'force' });
    await ok(admin.socket, { method: 'admin.vm.Kill', dest: 'sys-net' });
    expect(await state('sys-net')).toBe('Halted');
  });

  it('treats dom0 as Qubes treats its fake domain', async () => {
    expect(await call(admin.socket, { method: 'admin.vm.Start' })).toMatchObject({
      type: 'QubesVMNotHaltedError',
      message: 'Cannot start Dom0 fake domain!',
    });
    expect(await call(admin.socket, { method: 'admin.vm.Kill' })).toMatchObject({
      type: 'QubesVMError',
      message: 'Cannot kill Dom0 fake domain!',
    });
    // AdminVM.shutdown() takes no arguments: qubesd dies on a TypeError and answers nothing.
    expect(await call(admin.socket, { method: 'admin.vm.Shutdown' })).toEqual({ kind: 'empty' });
  });

  it('refuses to kill or shut down a halted qube', async () => {
    expect(await call(admin.socket, { method: 'admin.vm.Kill', dest: 'personal' })).toMatchObject({
      type: 'QubesVMNotStartedError',
      message: "Domain is powered off: 'personal'",
    });
    expect(await call(admin.socket, { method: 'admin.vm.Shutdown', dest: 'personal' })).toMatchObject({
      type: 'QubesVMNotStartedError',
    });
  });
});

describe('disposables', () => {
  it('creates dispN from the default disposable template, tagged, removed when killed', async () => {
    const name = await ok(admin.socket, { method: 'admin.vm.CreateDisposable', src: 'mgmt' });
    expect(name).toMatch(/^disp\d{1,4}$/);
    expect(await ok(admin.socket, { method: 'admin.vm.List', dest: name })).toMatch(
      new RegExp(`^${name} class=DispVM state=Halted`),
    );
    expect(await ok(admin.socket, { method: 'admin.vm.tag.List', dest: name })).toBe(
      'created-by-mgmt\ndisp-created-by-mgmt\n',
    );
    expect(await ok(admin.socket, { method: 'admin.vm.property.Get', dest: name, arg: 'template' })).toBe(
      'default=False type=vm default-dvm',
    );
    expect(await ok(admin.socket, { method: 'admin.vm.property.Get', dest: name, arg: 'auto_cleanup' })).toBe(
      'default=False type=bool True',
    );
    const priv = await volumeInfo(admin.socket, name, 'private');
    expect(priv).toMatchObject({ snap_on_start: 'True', source: 'appvms/default-dvm/private' });
    expect((await volumeInfo(admin.socket, name, 'root')).source).toBe('vm-templates/debian-12-xfce/root');
    // The disposable template cannot go while a disposable is based on it.
    expect(await call(admin.socket, { method: 'admin.vm.Remove', dest: 'default-dvm' })).toMatchObject({
      type: 'QubesVMInUseError',
    });
    await ok(admin.socket, { method: 'admin.vm.Start', dest: name });
    expect(await state(name)).toBe('Running');
    await ok(admin.socket, { method: 'admin.vm.Kill', dest: name });
    expect(await call(admin.socket, { method: 'admin.vm.List', dest: name })).toMatchObject({
      type: 'QubesVMNotFoundError',
    });
  });

  it('takes an explicit disposable template and removes the disposable on shutdown too', async () => {
    const name = await ok(admin.socket, {
      method: 'admin.vm.CreateDisposable',
      dest: 'default-dvm',
      payload: 'uuid',
    });
    expect(name).toMatch(/^uuid:[0-9a-f-]{36}$/);
    await ok(admin.socket, { method: 'admin.vm.Start', dest: name });
    await ok(admin.socket, { method: 'admin.vm.Shutdown', dest: name });
    expect(await call(admin.socket, { method: 'admin.vm.List', dest: name })).toMatchObject({
      type: 'QubesVMNotFoundError',
    });
  });

  it('refuses a qube that is not a disposable template', async () => {
    expect(await call(admin.socket, { method: 'admin.vm.CreateDisposable', dest: 'work' })).toMatchObject({
      type: 'QubesValueError',
      message: 'template for disposable (work) needs to be an AppVM with template_for_dispvms=True',
    });
    expect(await call(admin.socket, { method: 'admin.vm.CreateDisposable', arg: 'other' })).toMatchObject({
      type: 'PermissionDenied',
      message: `Argument not in "'', 'preload'"`,
    });
    expect(await call(admin.socket, { method: 'admin.vm.CreateDisposable', payload: 'name' })).toMatchObject({
      type: 'ProtocolError',
    });
  });

  it('keeps a named DispVM made with Create.DispVM after shutdown', async () => {
    await ok(admin.socket, {
      method: 'admin.vm.Create.DispVM',
      arg: 'default-dvm',
      payload: 'name=named-disp label=red',
    });
    await ok(admin.socket, { method: 'admin.vm.Start', dest: 'named-disp' });
    await ok(admin.socket, { method: 'admin.vm.Shutdown', dest: 'named-disp' });
    expect(await state('named-disp')).toBe('Halted');
    await ok(admin.socket, { method: 'admin.vm.Remove', dest: 'named-disp' });
  });
});
