/** The qrexec daemon through the real client executables, with the real Admin API daemon. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import {
  CLIENT_DOM0,
  CLIENT_VM,
  runClient,
  writePolicy,
  writeServiceTable,
  useQrexecSim,
} from '../helpers/qrexec-helpers.ts';

let env: Record<string, string>;

const ECHO = `
process.stderr.write('arg=' + (process.argv[2] ?? '') + ' env=' + (process.env.QREXEC_SERVICE_ARGUMENT ?? '') +
  ' from=' + process.env.QREXEC_REMOTE_DOMAIN + ' vm=' + process.env.TMPL_SIM_VM_NAME + '\\n');
process.stdin.pipe(process.stdout);
process.stdin.on('end', () => { process.exitCode = Number(process.argv[2] || 0); });
`;

function listNames(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.split(' ')[0]!, /state=(\S+)/.exec(line)?.[1] ?? '']),
  );
}

const world = useQrexecSim('qrx-fix-', (sim, fixtures) => {
  fs.writeFileSync(path.join(fixtures, 'echo.mjs'), ECHO);
  const echo = { argv: ['node', path.join(fixtures, 'echo.mjs')], readOnlyBinds: [fixtures] };
  writeServiceTable(sim.dir, {
    'fedora-41-xfce': { 'test.Echo': echo },
    personal: { 'test.Echo': null },
  });
  writePolicy(
    sim.dir,
    '10-test.policy',
    [
      'test.Echo * mgmt work allow',
      'test.Echo * mgmt personal allow',
      'test.Echo * mgmt sys-net allow autostart=no',
      'test.Missing * mgmt work allow',
      'test.Ask * mgmt work ask',
      'test.Echo * mgmt @dispvm allow',
      '',
    ].join('\n'),
  );
  env = { TMPL_SIM_DIR: sim.dir };
});

describe('qrexec-client-vm', () => {
  test('a call policy refuses exits 126 with "Request refused"', async () => {
    const result = await runClient(CLIENT_VM, ['dom0', 'admin.vm.List'], env);
    expect(result.status).toBe(126);
    expect(result.stderr).toBe('Request refused\n');
    expect(result.stdout.length).toBe(0);
    const other = await runClient(CLIENT_VM, ['work', 'test.Echo'], {
      ...env,
      TMPL_SIM_SOURCE_VM: 'personal',
    });
    expect(other.status).toBe(126);
  });

  test('a tagged management VM reaches the Admin API, as itself', async () => {
    await world.sim.call('admin.vm.tag.Set', 'mgmt', 'tmpl-manager');
    const list = await runClient(CLIENT_VM, ['dom0', 'admin.vm.List'], env);
    expect(list.status).toBe(0);
    expect(list.stdout.subarray(0, 2).toString('latin1')).toBe('0\0');
    expect(listNames(list.stdout.subarray(2).toString()).has('fedora-41-xfce')).toBe(true);

    const created = await runClient(
      CLIENT_VM,
      ['dom0', 'admin.vm.Create.TemplateVM'],
      env,
      'name=tmpl-made label=black',
    );
    expect([created.status, created.stdout.toString('latin1')]).toEqual([0, '0\0']);
    // qubesd tags a new qube created-by-<source>: the call went out with mgmt as its source.
    expect((await world.sim.call('admin.vm.tag.List', 'tmpl-made')).split('\n')).toContain('created-by-mgmt');

    // The requested target is the destination qubesd acts on.
    const prop = await runClient(CLIENT_VM, ['tmpl-made', 'admin.vm.property.Get+label'], env);
    expect(prop.stdout.toString('latin1')).toBe('0\0default=False type=label black');
    // qubesd's exceptions come back framed, exit status 0 (qubesd-query's behaviour).
    const missing = await runClient(CLIENT_VM, ['tmpl-made', 'admin.vm.feature.Get+nope'], env);
    expect(missing.status).toBe(0);
    expect(missing.stdout.toString('latin1')).toMatch(/^2\0QubesFeatureNotFoundError\0/);
  });

  test('volume import through qrexec runs dom0 import script with the caller as source', async () => {
    const size = 1024 * 1024;
    const data = Buffer.alloc(size, 7);
    const result = await runClient(
      CLIENT_VM,
      ['tmpl-made', 'admin.vm.volume.ImportWithSize+root'],
      env,
      Buffer.concat([Buffer.from(`${size}\n`), data]),
    );
    expect([result.status, result.stdout.toString('latin1'), result.stderr]).toEqual([0, '0\0', '']);
    const info = await world.sim.call('admin.vm.volume.Info', 'tmpl-made', 'root');
    expect(info).toMatch(/^size=1048576$/m);
    const short = await runClient(
      CLIENT_VM,
      ['tmpl-made', 'admin.vm.volume.ImportWithSize+root'],
      env,
      `${size}\nshort`,
    );
    expect(short.stdout.toString('latin1')).toMatch(/^2\0QubesException\0/);
  });

  test('service argument, source, stdout, stderr and exit status are propagated; the target autostarts', async () => {
    expect(listNames(await world.sim.call('admin.vm.List', 'dom0')).get('work')).toBe('Halted');
    const result = await runClient(CLIENT_VM, ['work', 'test.Echo+3'], env, 'payload bytes');
    expect(result.stdout.toString()).toBe('payload bytes');
    expect(result.stderr).toBe('arg=3 env=3 from=mgmt vm=work\n');
    expect(result.status).toBe(3);
    expect(listNames(await world.sim.call('admin.vm.List', 'dom0')).get('work')).toBe('Running');
    const plain = await runClient(CLIENT_VM, ['work', 'test.Echo'], env, '');
    expect([plain.status, plain.stderr]).toEqual([0, 'arg= env= from=mgmt vm=work\n']);
  });

  test('autostart=no refuses a halted target', async () => {
    await world.sim.call('admin.vm.Kill', 'sys-net').catch(() => undefined);
    const result = await runClient(CLIENT_VM, ['sys-net', 'test.Echo'], env);
    expect(result.status).toBe(126);
  });

  test('a missing service exits 127; the service table can remove an inherited service', async () => {
    const missing = await runClient(CLIENT_VM, ['work', 'test.Missing'], env);
    expect(missing.status).toBe(127);
    expect(missing.stderr).toMatch(/service test.Missing not found/);
    const removed = await runClient(CLIENT_VM, ['personal', 'test.Echo'], env);
    expect(removed.status).toBe(127);
  });

  test('ask follows the answer configured for the run (TMPL_SIM_ASK), deny by default', async () => {
    expect((await runClient(CLIENT_VM, ['work', 'test.Ask'], env)).status).toBe(126);
    process.env.TMPL_SIM_ASK = 'allow';
    try {
      // allowed, then the target has no such service
      expect((await runClient(CLIENT_VM, ['work', 'test.Ask'], env)).status).toBe(127);
    } finally {
      delete process.env.TMPL_SIM_ASK;
    }
  });

  test('an invalid policy refuses every call and says where it is broken', async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    writePolicy(world.sim.dir, '05-broken.policy', '# fine\ntest.Echo * mgmt work allow notify=maybe\n');
    try {
      const result = await runClient(CLIENT_VM, ['work', 'test.Echo'], env);
      expect([result.status, result.stderr]).toEqual([126, 'Request refused\n']);
    } finally {
      spy.mockRestore();
      fs.rmSync(path.join(world.sim.dir, 'policy.d', '05-broken.policy'));
    }
    expect(writes.join('')).toMatch(/policy error, call refused: .*05-broken\.policy:2: 'notify' is 'maybe'/);
    expect((await runClient(CLIENT_VM, ['work', 'test.Echo'], env)).status).toBe(0);
  });

  test('bad invocations', async () => {
    expect((await runClient(CLIENT_VM, ['work'], env)).status).toBe(2);
    const invalid = await runClient(CLIENT_VM, ['work', 'bad/service'], env);
    expect(invalid.status).toBe(125);
    const nowhere = await runClient(CLIENT_VM, ['work', 'test.Echo'], {
      TMPL_SIM_QREXEC_SOCKET: path.join(world.fixtures, 'none.sock'),
    });
    expect(nowhere.status).toBe(125);
    expect(nowhere.stderr).toMatch(/cannot talk to the qrexec daemon/);
  });
});

describe('qrexec-client (dom0)', () => {
  test('needs the target running, then runs the service without policy', async () => {
    await world.sim.call('admin.vm.Kill', 'personal').catch(() => undefined);
    const halted = await runClient(
      CLIENT_DOM0,
      ['-d', 'fedora-41-xfce', 'DEFAULT:QUBESRPC test.Echo+5 dom0'],
      env,
    );
    expect(halted.status).toBe(125);
    expect(halted.stderr).toMatch(/not running/);
    await world.sim.call('admin.vm.Start', 'fedora-41-xfce');
    const ran = await runClient(
      CLIENT_DOM0,
      ['-d', 'fedora-41-xfce', '-w', '30', 'DEFAULT:QUBESRPC test.Echo+5 dom0'],
      env,
      'x',
    );
    expect([ran.status, ran.stdout.toString(), ran.stderr]).toEqual([
      5,
      'x',
      'arg=5 env=5 from=dom0 vm=fedora-41-xfce\n',
    ]);
    const noExit = await runClient(
      CLIENT_DOM0,
      ['-E', '-d', 'fedora-41-xfce', 'DEFAULT:QUBESRPC test.Echo+5 dom0'],
      env,
    );
    expect(noExit.status).toBe(0);
    const notRpc = await runClient(CLIENT_DOM0, ['-d', 'fedora-41-xfce', 'user:ls /'], env);
    expect(notRpc.status).toBe(125);
    expect((await runClient(CLIENT_DOM0, ['fedora-41-xfce'], env)).status).toBe(2);
  });

  test('qubes.PostInstall reports features through qubes.FeaturesRequest, filtered as qubesd does', async () => {
    writeServiceTable(world.sim.dir, {
      'fedora-41-xfce': {
        'qubes.PostInstall': {
          argv: ['node', '{repo}/sim/bin/sim-vm-services/qubes-post-install.mjs'],
          env: {
            TMPL_SIM_POST_INSTALL_FEATURES: JSON.stringify({
              'os-distribution': 'simdist',
              'template-name': 'evil',
            }),
          },
        },
      },
    });
    const before = await world.sim.call('admin.vm.feature.Get', 'fedora-41-xfce', 'template-name');
    const result = await runClient(
      CLIENT_DOM0,
      ['-d', 'fedora-41-xfce', 'DEFAULT:QUBESRPC qubes.PostInstall dom0'],
      env,
    );
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/ignored feature requests: template-name/);
    expect(await world.sim.call('admin.vm.feature.Get', 'fedora-41-xfce', 'os-distribution')).toBe('simdist');
    expect(await world.sim.call('admin.vm.feature.Get', 'fedora-41-xfce', 'template-name')).toBe(before);

    writeServiceTable(world.sim.dir, {
      'fedora-41-xfce': {
        'qubes.PostInstall': {
          argv: ['node', '{repo}/sim/bin/sim-vm-services/qubes-post-install.mjs'],
          env: { TMPL_SIM_POST_INSTALL_FAIL: '4' },
        },
      },
    });
    const failed = await runClient(
      CLIENT_DOM0,
      ['-d', 'fedora-41-xfce', 'DEFAULT:QUBESRPC qubes.PostInstall dom0'],
      env,
    );
    expect([failed.status, failed.stderr]).toEqual([4, 'qubes.PostInstall: simulated failure\n']);
  });

  test('qubes.PostInstall reports supported-rpc.NAME for each service the template has, and only those', async () => {
    writeServiceTable(world.sim.dir, {});
    const post = ['-d', 'fedora-41-xfce', 'DEFAULT:QUBESRPC qubes.PostInstall dom0'];
    expect((await runClient(CLIENT_DOM0, post, env)).status).toBe(0);
    expect(
      await world.sim.call('admin.vm.feature.Get', 'fedora-41-xfce', 'supported-rpc.qubes.PostInstall'),
    ).toBe('1');
    expect((await world.sim.call('admin.vm.feature.List', 'fedora-41-xfce')).split('\n')).not.toContain(
      'supported-rpc.tmpl.Worker',
    );
    // tmpl-worker installed in the template: its service file is there, and reported
    writeServiceTable(world.sim.dir, { 'fedora-41-xfce': { 'tmpl.Worker': { argv: ['/bin/true'] } } });
    expect((await runClient(CLIENT_DOM0, post, env)).status).toBe(0);
    expect(await world.sim.call('admin.vm.feature.Get', 'fedora-41-xfce', 'supported-rpc.tmpl.Worker')).toBe(
      '1',
    );
    // removed again: qubesd drops the supported-rpc feature the next report leaves out
    writeServiceTable(world.sim.dir, {});
    expect((await runClient(CLIENT_DOM0, post, env)).status).toBe(0);
    expect((await world.sim.call('admin.vm.feature.List', 'fedora-41-xfce')).split('\n')).not.toContain(
      'supported-rpc.tmpl.Worker',
    );
  });
});
