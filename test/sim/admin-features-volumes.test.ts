import { describe, expect, it } from 'vitest';
import { call, ok } from '../helpers/admin-raw-client.ts';
import { useSeededDaemon, volumeInfo } from '../helpers/admin-daemon.ts';

const admin = useSeededDaemon();

describe('features and tags', () => {
  it('sets, lists, gets and removes features with Qubes checks', async () => {
    await ok(admin.socket, {
      method: 'admin.vm.feature.Set',
      dest: 'personal',
      arg: 'service.cups',
      payload: '1',
    });
    await ok(admin.socket, { method: 'admin.vm.feature.Set', dest: 'personal', arg: 'empty', payload: '' });
    expect(await ok(admin.socket, { method: 'admin.vm.feature.List', dest: 'personal' })).toBe(
      'service.cups\nempty\n',
    );
    expect(await ok(admin.socket, { method: 'admin.vm.feature.Get', dest: 'personal', arg: 'empty' })).toBe(
      '',
    );
    expect(
      await call(admin.socket, { method: 'admin.vm.feature.Get', dest: 'personal', arg: 'nope' }),
    ).toMatchObject({
      type: 'QubesFeatureNotFoundError',
      message: 'Feature not set for domain personal: nope',
    });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.feature.Set',
        dest: 'personal',
        arg: 'bad/name',
        payload: '1',
      }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: 'feature name contains illegal characters',
    });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.feature.Set',
        dest: 'personal',
        arg: 'x',
        payload: 'a\nb',
      }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: 'x value contains illegal characters',
    });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.feature.Set',
        dest: 'personal',
        arg: 'x',
        payload: Buffer.from([0xc3, 0xa9]),
      }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: 'Feature value contains non-ASCII characters',
    });
    await ok(admin.socket, { method: 'admin.vm.feature.Remove', dest: 'personal', arg: 'empty' });
    expect(
      await call(admin.socket, { method: 'admin.vm.feature.Remove', dest: 'personal', arg: 'empty' }),
    ).toMatchObject({ type: 'QubesFeatureNotFoundError' });
  });

  it('CheckWithTemplate falls back to the template', async () => {
    expect(
      await ok(admin.socket, {
        method: 'admin.vm.feature.CheckWithTemplate',
        dest: 'personal',
        arg: 'template-name',
      }),
    ).toBe('fedora-41-xfce');
    expect(
      await ok(admin.socket, {
        method: 'admin.vm.feature.CheckWithTemplate',
        dest: 'personal',
        arg: 'service.cups',
      }),
    ).toBe('1');
    expect(
      await call(admin.socket, {
        method: 'admin.vm.feature.CheckWithTemplate',
        dest: 'personal',
        arg: 'nope',
      }),
    ).toMatchObject({
      type: 'QubesFeatureNotFoundError',
      message: 'Feature not set for domain personal: nope',
    });
  });

  it('sets, gets, lists and removes tags', async () => {
    await ok(admin.socket, { method: 'admin.vm.tag.Set', dest: 'personal', arg: 'zeta' });
    await ok(admin.socket, { method: 'admin.vm.tag.Set', dest: 'personal', arg: 'alpha' });
    expect(await ok(admin.socket, { method: 'admin.vm.tag.List', dest: 'personal' })).toBe(
      'alpha\ncreated-by-dom0\nzeta\n',
    );
    expect(await ok(admin.socket, { method: 'admin.vm.tag.Get', dest: 'personal', arg: 'alpha' })).toBe('1');
    expect(await ok(admin.socket, { method: 'admin.vm.tag.Get', dest: 'personal', arg: 'beta' })).toBe('0');
    expect(
      await call(admin.socket, { method: 'admin.vm.tag.Set', dest: 'personal', arg: 'a.b' }),
    ).toMatchObject({
      type: 'QubesInvalidTagError',
      message: 'disallowed characters',
    });
    await ok(admin.socket, { method: 'admin.vm.tag.Remove', dest: 'personal', arg: 'zeta' });
    expect(
      await call(admin.socket, { method: 'admin.vm.tag.Remove', dest: 'personal', arg: 'zeta' }),
    ).toMatchObject({
      type: 'QubesTagNotFoundError',
      message: 'Tag not set for domain personal: zeta',
    });
  });
});

describe('pools and volumes', () => {
  it('lists pools and reports their size and usage', async () => {
    expect(await ok(admin.socket, { method: 'admin.pool.List' })).toBe(
      'varlibqubes\npool2\nreflink\nlinux-kernel\n',
    );
    const info = await ok(admin.socket, { method: 'admin.pool.Info', arg: 'pool2' });
    expect(info).toMatch(
      /^dir_path=.*\ndriver=file\nephemeral_volatile=False\nname=pool2\nrevisions_to_keep=1\nsize=1073741824\nusage=\d+\n$/,
    );
    expect(await call(admin.socket, { method: 'admin.pool.Info', arg: 'nopool' })).toMatchObject({
      type: 'PermissionDenied',
      message: "Argument not in 'pools'",
    });
  });

  it('resizes and clears a volume', async () => {
    await ok(admin.socket, {
      method: 'admin.vm.volume.Resize',
      dest: 'personal',
      arg: 'private',
      payload: String(3 * 2 ** 30),
    });
    expect((await volumeInfo(admin.socket, 'personal', 'private')).size).toBe(String(3 * 2 ** 30));
    expect(
      await call(admin.socket, {
        method: 'admin.vm.volume.Resize',
        dest: 'personal',
        arg: 'root',
        payload: '100',
      }),
    ).toMatchObject({ type: 'StoragePoolException' });
    expect(
      await call(admin.socket, {
        method: 'admin.vm.volume.Resize',
        dest: 'personal',
        arg: 'private',
        payload: '012',
      }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: 'Volume size contains spurious leading zeros',
    });
    expect(
      await call(admin.socket, { method: 'admin.vm.volume.Info', dest: 'personal', arg: 'swap' }),
    ).toMatchObject({
      type: 'PermissionDenied',
      message: "Argument not in 'personal volumes'",
    });
    await ok(admin.socket, { method: 'admin.vm.volume.Clear', dest: 'personal', arg: 'private' });
    expect((await volumeInfo(admin.socket, 'personal', 'private')).usage).toBe('0');
  });
});
