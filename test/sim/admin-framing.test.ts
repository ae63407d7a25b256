import { readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES, startAdminDaemon } from '../../sim/admin/index.ts';
import { call, ok, rawRequest, seededDaemon, type SeededDaemon } from '../helpers/admin-raw-client.ts';

let sim: SeededDaemon;
beforeAll(async () => {
  sim = await seededDaemon();
});
afterAll(async () => {
  await sim.close();
});

describe('qubesd framing', () => {
  it('answers 0\\0 and the content, then closes the connection', async () => {
    const raw = await rawRequest(sim.socket, Buffer.from('admin.vm.List+ dom0 name dom0\0'));
    expect(raw.subarray(0, 2)).toEqual(Buffer.from('0\0'));
    const lines = raw.subarray(2).toString().split('\n');
    expect(lines.at(-1)).toBe('');
    const names = lines.slice(0, -1).map((l) => l.split(' ')[0]);
    expect(names).toEqual([...names].sort());
    expect(lines).toContainEqual(expect.stringMatching(/^dom0 class=AdminVM state=Running uuid=0{8}-/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^fedora-41-xfce class=TemplateVM state=Halted uuid=/),
    );
  });

  it('maps `keyword adminvm` to dom0 and accepts a method without +', async () => {
    const raw = await rawRequest(sim.socket, Buffer.from('admin.label.List dom0 keyword adminvm\0'));
    expect(raw.toString()).toBe('0\0red\norange\nyellow\ngreen\ngray\nblue\npurple\nblack\n');
  });

  it('does not answer before the client half-closes', async () => {
    const socket = net.connect(sim.socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write('admin.label.List+ dom0 name dom0\0');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(chunks).toHaveLength(0);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.end();
    await closed;
    expect(Buffer.concat(chunks).toString()).toMatch(/^0\0red\n/);
  });

  it('reports exceptions as 2\\0Type\\0\\0message\\0 with an empty traceback', async () => {
    const raw = await rawRequest(sim.socket, Buffer.from('admin.vm.property.Get+netvm dom0 name nosuchvm\0'));
    expect(raw.toString()).toBe("2\0QubesVMNotFoundError\0\0No such domain: 'nosuchvm'\0");
  });

  it('checks method, argument, payload and destination as qubesd does', async () => {
    expect(await call(sim.socket, { method: 'admin.vm.Frobnicate' })).toEqual({
      kind: 'exception',
      type: 'ProtocolError',
      traceback: '',
      message: "no such method: 'admin.vm.Frobnicate'",
    });
    expect(await call(sim.socket, { method: 'admin.vm.List', arg: 'x' })).toMatchObject({
      type: 'ProtocolError',
      message: 'unexpected argument',
    });
    expect(await call(sim.socket, { method: 'admin.vm.List', payload: 'x' })).toMatchObject({
      type: 'ProtocolError',
      message: 'unexpected payload',
    });
    expect(await call(sim.socket, { method: 'admin.vm.property.Get', dest: 'work' })).toMatchObject({
      type: 'ProtocolError',
      message: 'expected an argument',
    });
    expect(
      await call(sim.socket, { method: 'admin.vm.volume.Resize', dest: 'work', arg: 'private' }),
    ).toMatchObject({ type: 'ProtocolError', message: 'expected payload' });
    expect(await call(sim.socket, { method: 'admin.label.List', dest: 'work' })).toMatchObject({
      type: 'ProtocolError',
      message: 'expected destination to be AdminVM',
    });
  });

  it('validates the source and destination names', async () => {
    expect(await call(sim.socket, { method: 'admin.vm.List', src: '0bad' })).toMatchObject({
      type: 'QubesValueError',
      message: 'VM name cannot start with hyphen, underscore, dot or numbers',
    });
    expect(await call(sim.socket, { method: 'admin.vm.List', src: 'ghost' })).toMatchObject({
      type: 'QubesVMNotFoundError',
      message: "No such domain: 'ghost'",
    });
  });

  it('trusts the source the socket names (as qubesd trusts qrexec)', async () => {
    await ok(sim.socket, {
      method: 'admin.vm.Create.AppVM',
      arg: 'fedora-41-xfce',
      payload: 'name=made-by-mgmt label=red',
      src: 'mgmt',
    });
    expect(await ok(sim.socket, { method: 'admin.vm.tag.List', dest: 'made-by-mgmt' })).toBe(
      'created-by-mgmt\n',
    );
  });

  it('aborts without a reply on framing errors', async () => {
    for (const request of [
      'admin.vm.List+ dom0 name dom0',
      'admin.vm.List+ dom0 dom0\0',
      'admin.vm.List+ dom0 uuid dom0\0',
      '',
    ]) {
      expect(await rawRequest(sim.socket, Buffer.from(request)), request).toHaveLength(0);
    }
  });

  it(`takes a request of exactly ${MAX_REQUEST_BYTES} bytes and aborts one byte more`, async () => {
    const header = Buffer.from('admin.vm.feature.Set+big dom0 name work\0');
    const fits = Buffer.concat([header, Buffer.alloc(MAX_REQUEST_BYTES - header.length, 'a')]);
    expect((await rawRequest(sim.socket, fits)).toString()).toBe('0\0');
    const value = await ok(sim.socket, { method: 'admin.vm.feature.Get', dest: 'work', arg: 'big' });
    expect(value).toHaveLength(MAX_REQUEST_BYTES - header.length);
    const tooLong = Buffer.concat([header, Buffer.alloc(MAX_REQUEST_BYTES - header.length + 1, 'b')]);
    expect(await rawRequest(sim.socket, tooLong)).toHaveLength(0);
    expect(await ok(sim.socket, { method: 'admin.vm.feature.Get', dest: 'work', arg: 'big' })).toBe(value);
  });

  it('accepts uuid:UUID as a destination', async () => {
    const list = await ok(sim.socket, { method: 'admin.vm.List' });
    const uuid = /^work .* uuid=(\S+)$/m.exec(list)![1]!;
    expect(await ok(sim.socket, { method: 'admin.vm.property.Get', dest: `uuid:${uuid}`, arg: 'name' })).toBe(
      'default=False type=str work',
    );
    expect(await call(sim.socket, { method: 'admin.vm.List', dest: 'uuid:1234' })).toMatchObject({
      type: 'QubesVMInvalidUUIDError',
    });
  });

  it('keeps its state across a restart, written atomically', async () => {
    await ok(sim.socket, {
      method: 'admin.vm.feature.Set',
      dest: 'personal',
      arg: 'restart-test',
      payload: 'kept',
    });
    await ok(sim.socket, {
      method: 'admin.vm.property.Set',
      dest: 'personal',
      arg: 'memory',
      payload: '1234',
    });
    await ok(sim.socket, { method: 'admin.vm.Create.TemplateVM', payload: 'name=after-restart label=black' });
    await ok(sim.socket, { method: 'admin.vm.Start', dest: 'personal' });
    // A client that never half-closes must not keep the daemon from stopping.
    const dangling = net.connect(sim.socket);
    const danglingClosed = new Promise((resolve) => dangling.once('close', () => resolve('closed')));
    dangling.on('error', () => undefined);
    await new Promise((resolve) => dangling.once('connect', resolve));
    dangling.write('admin.vm.List+ dom0 name dom0\0');
    await sim.daemon.close();
    const gone = await Promise.race([
      danglingClosed,
      new Promise((resolve) => setTimeout(() => resolve('still open'), 5000)),
    ]);
    expect(gone).toBe('closed');
    expect((await readdir(sim.dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
    const stored = JSON.parse(await readFile(path.join(sim.dir, 'qubes.json'), 'utf8'));
    expect(stored.vms.map((v: { name: string }) => v.name)).toContain('after-restart');
    const daemon = await startAdminDaemon({ dir: sim.dir, socketPath: sim.socket });
    sim = {
      ...sim,
      daemon,
      close: async () => {
        await daemon.close();
        await rm(sim.dir, { recursive: true, force: true });
      },
    };
    expect(
      await ok(sim.socket, { method: 'admin.vm.feature.Get', dest: 'personal', arg: 'restart-test' }),
    ).toBe('kept');
    expect(await ok(sim.socket, { method: 'admin.vm.property.Get', dest: 'personal', arg: 'memory' })).toBe(
      'default=False type=int 1234',
    );
    expect(await ok(sim.socket, { method: 'admin.vm.List' })).toMatch(
      /^after-restart class=TemplateVM state=Halted/m,
    );
    expect(await ok(sim.socket, { method: 'admin.vm.List' })).toMatch(/^personal class=AppVM state=Running/m);
  });

  it('refuses to take over a socket another daemon is listening on', async () => {
    await expect(startAdminDaemon({ dir: sim.dir, socketPath: sim.socket })).rejects.toThrow(
      /socket already exists/,
    );
  });
});

describe('boot', () => {
  it('halts every qube and drops auto_cleanup disposables when started with boot', async () => {
    const disp = await ok(sim.socket, { method: 'admin.vm.CreateDisposable' });
    await ok(sim.socket, { method: 'admin.vm.Start', dest: disp });
    expect(await ok(sim.socket, { method: 'admin.vm.List' })).toMatch(/^personal class=AppVM state=Running/m);
    await sim.daemon.close();
    const daemon = await startAdminDaemon({ dir: sim.dir, socketPath: sim.socket, boot: true });
    sim = {
      ...sim,
      daemon,
      close: async () => {
        await daemon.close();
        await rm(sim.dir, { recursive: true, force: true });
      },
    };
    const list = await ok(sim.socket, { method: 'admin.vm.List' });
    expect(list).toMatch(/^personal class=AppVM state=Halted/m);
    expect(list).toMatch(/^dom0 class=AdminVM state=Running/m);
    expect(list).not.toContain(`${disp} `);
    expect(list).toMatch(/^after-restart class=TemplateVM/m);
  });
});
