/**
 * admin.vm.volume.ListSnapshots and admin.vm.volume.Revert as qubesd answers them
 * (qubes/api/admin.py), over the pool drivers of qubes/storage: a `file-reflink` volume keeps
 * the replaced data as a revision at every commit (reflink.py _commit, _add_revision,
 * _prune_revisions) and reverts by renaming it back; a `file` volume keeps no revision at an
 * import (file.py import_data_end renames over it) and has no revert().
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, ok } from '../helpers/admin-raw-client.ts';
import { useSeededDaemon } from '../helpers/admin-daemon.ts';

const admin = useSeededDaemon({}, async (socket) => {
  await ok(socket, {
    method: 'admin.vm.CreateInPool.TemplateVM',
    payload: 'name=tpl-r label=black pool=reflink',
  });
  await ok(socket, { method: 'admin.vm.Create.TemplateVM', payload: 'name=tpl-f label=black' });
});

const snapshots = (vm: string, volume: string) =>
  ok(admin.socket, { method: 'admin.vm.volume.ListSnapshots', dest: vm, arg: volume });
const revert = (vm: string, volume: string, revision: string) =>
  call(admin.socket, { method: 'admin.vm.volume.Revert', dest: vm, arg: volume, payload: revision });
const privateImage = (vm: string, pool: string) =>
  path.join(admin.daemon.dir, 'pools', pool, 'vm-templates', vm, 'private.img');
const MARK = Buffer.from('kept by the user');

async function head(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  const buffer = Buffer.alloc(MARK.length);
  await handle.read(buffer, 0, MARK.length, 0);
  await handle.close();
  return buffer;
}

async function mark(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  await handle.write(MARK, 0, MARK.length, 0);
  await handle.close();
}

describe('file-reflink', () => {
  it('a clear keeps the old data as a revision; Revert brings it back, the cleared data becoming one', async () => {
    const file = privateImage('tpl-r', 'reflink');
    await mark(file);
    expect(await snapshots('tpl-r', 'private')).toBe('');
    await ok(admin.socket, { method: 'admin.vm.volume.Clear', dest: 'tpl-r', arg: 'private' });
    expect(await head(file)).toEqual(Buffer.alloc(MARK.length));
    expect(await snapshots('tpl-r', 'private')).toBe('1\n');
    // revisions_to_keep=1: the next commit replaces the kept revision
    await ok(admin.socket, { method: 'admin.vm.volume.Clear', dest: 'tpl-r', arg: 'private' });
    expect(await snapshots('tpl-r', 'private')).toBe('2\n');
    await mark(file);
    await ok(admin.socket, { method: 'admin.vm.volume.Clear', dest: 'tpl-r', arg: 'private' });
    expect(await snapshots('tpl-r', 'private')).toBe('3\n');
    expect(await revert('tpl-r', 'private', '3\n')).toEqual({ kind: 'ok', content: '' });
    expect(await head(file)).toEqual(MARK);
    expect(await snapshots('tpl-r', 'private')).toBe('4\n');
    // the copies stay sparse: a 2 GiB image with one block of data
    expect((await stat(file)).blocks * 512).toBeLessThan(1024 * 1024);
  });

  it('Revert: a revision outside the safe set, an unknown one, a running qube', async () => {
    expect(await revert('tpl-r', 'private', '../4')).toMatchObject({ type: 'PermissionDenied' });
    // QubesVolumeRevisionNotFoundError is a KeyError: qubesd sends no reply
    expect(await revert('tpl-r', 'private', '99')).toEqual({ kind: 'empty' });
    await ok(admin.socket, { method: 'admin.vm.Start', dest: 'tpl-r' });
    expect(await revert('tpl-r', 'private', '4')).toMatchObject({ type: 'StoragePoolException' });
    await ok(admin.socket, { method: 'admin.vm.Kill', dest: 'tpl-r' });
    expect(await revert('tpl-r', 'volatile', '4')).toEqual({ kind: 'empty' });
    expect(
      await call(admin.socket, { method: 'admin.vm.volume.ListSnapshots', dest: 'tpl-r', arg: 'swap' }),
    ).toMatchObject({
      type: 'PermissionDenied',
    });
  });
});

describe('file-reflink: a shutdown commits, revisions_to_keep', () => {
  it('a run of the qube adds a revision and prunes to revisions_to_keep, which Set changes', async () => {
    // the start and kill of the test before committed once
    expect(await snapshots('tpl-r', 'private')).toBe('5\n');
    const set = (value: string) =>
      call(admin.socket, {
        method: 'admin.vm.volume.Set.revisions_to_keep',
        dest: 'tpl-r',
        arg: 'private',
        payload: value,
      });
    expect(await set('2')).toEqual({ kind: 'ok', content: '' });
    await ok(admin.socket, { method: 'admin.vm.Start', dest: 'tpl-r' });
    await ok(admin.socket, { method: 'admin.vm.Shutdown', dest: 'tpl-r' });
    expect(await snapshots('tpl-r', 'private')).toBe('5\n6\n');
    expect(await set('1')).toEqual({ kind: 'ok', content: '' });
    await ok(admin.socket, { method: 'admin.vm.Start', dest: 'tpl-r' });
    await ok(admin.socket, { method: 'admin.vm.Kill', dest: 'tpl-r' });
    expect(await snapshots('tpl-r', 'private')).toBe('7\n');
    expect(await set('-2')).toMatchObject({ type: 'QubesValueError' });
    expect(await set('x')).toMatchObject({ type: 'ProtocolError' });
  });

  it('a file volume keeps at most one revision', async () => {
    expect(
      await call(admin.socket, {
        method: 'admin.vm.volume.Set.revisions_to_keep',
        dest: 'tpl-f',
        arg: 'root',
        payload: '2',
      }),
    ).toEqual({ kind: 'empty' });
  });
});

describe('file', () => {
  it('keeps no revision at a clear and has no revert', async () => {
    await mark(privateImage('tpl-f', 'varlibqubes'));
    await ok(admin.socket, { method: 'admin.vm.volume.Clear', dest: 'tpl-f', arg: 'private' });
    expect(await snapshots('tpl-f', 'private')).toBe('');
    expect(await revert('tpl-f', 'private', 'old')).toEqual({ kind: 'empty' });
  });
});
