/** Disposables: created for a call, killed and removed when it ends, however it ends. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startQrexecDaemon } from '../../sim/qrexec/index.ts';
import { expect, test } from 'vitest';
import {
  CLIENT_VM,
  runClient,
  startSim,
  writePolicy,
  writeServiceTable,
  useQrexecSim,
} from '../helpers/qrexec-helpers.ts';

const env = (): Record<string, string> => ({ TMPL_SIM_DIR: world.sim.dir });

const SERVICE = `
import { spawn } from 'node:child_process';
const mode = process.argv[2] ?? '';
process.stdout.write(process.env.TMPL_SIM_VM_NAME + '\\n');
if (mode === 'crash') process.kill(process.pid, 'SIGKILL');
if (mode.startsWith('hang')) {
  // a grandchild too: the whole sandbox must go when the call ends
  spawn('sleep', ['3600.' + mode.slice(4)], { stdio: 'ignore' });
  process.stdout.write('ready\\n');
  setInterval(() => {}, 1000);
} else {
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}
`;

async function dispvms(): Promise<string[]> {
  const list = await world.sim.call('admin.vm.List', 'dom0');
  return list
    .split('\n')
    .filter((line) => line.includes('class=DispVM'))
    .map((line) => line.split(' ')[0]!);
}

async function waitFor(
  predicate: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(marker)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

const world = useQrexecSim('qrx-disp-', (sim, fixtures) => {
  fs.writeFileSync(path.join(fixtures, 'svc.mjs'), SERVICE);
  writeServiceTable(sim.dir, {
    'debian-12-xfce': {
      'test.Disp': { argv: ['node', path.join(fixtures, 'svc.mjs')], readOnlyBinds: [fixtures] },
    },
  });
  writePolicy(
    sim.dir,
    '10-test.policy',
    'test.Disp * mgmt @dispvm allow\ntest.Disp * mgmt @dispvm:default-dvm allow\n',
  );
});

test('a call to @dispvm runs in a new disposable of default_dispvm, removed after the call', async () => {
  expect(await dispvms()).toEqual([]);
  const first = await runClient(CLIENT_VM, ['@dispvm', 'test.Disp'], env());
  const second = await runClient(CLIENT_VM, ['@dispvm:default-dvm', 'test.Disp'], env());
  expect([first.status, second.status]).toEqual([0, 0]);
  const [a, b] = [first.stdout.toString().trim(), second.stdout.toString().trim()];
  expect(a).toMatch(/^disp\d+$/);
  expect(b).toMatch(/^disp\d+$/);
  expect(a).not.toBe(b);
  await waitFor(
    async () => (await dispvms()).length === 0 && world.sim.qrexec.activeDisposables().length === 0,
    'clean-up',
  );
});

test('the disposable is removed when the service crashes', async () => {
  const result = await runClient(CLIENT_VM, ['@dispvm', 'test.Disp+crash'], env());
  expect(result.status).toBe(137);
  expect(result.stdout.toString()).toMatch(/^disp\d+\n$/);
  await waitFor(
    async () => (await dispvms()).length === 0 && world.sim.qrexec.activeDisposables().length === 0,
    'clean-up',
  );
});

test('the disposable and everything in it go when the caller is killed with SIGKILL', async () => {
  const marker = String(process.pid) + String(Date.now() % 100000);
  const child = spawn(process.execPath, [CLIENT_VM, '@dispvm', `test.Disp+hang${marker}`], {
    env: { ...process.env, ...env() },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(() => out.includes('ready\n'), 'the service to start');
  const name = out.split('\n')[0]!;
  expect(await dispvms()).toEqual([name]);
  expect(processesWith(`3600.${marker}`).length).toBe(1);

  child.kill('SIGKILL');
  await waitFor(
    async () => (await dispvms()).length === 0 && world.sim.qrexec.activeDisposables().length === 0,
    'clean-up',
  );
  await waitFor(() => processesWith(`3600.${marker}`).length === 0, 'the sandbox to die');
});

test('stopping the daemon ends calls in progress and removes their disposables', async () => {
  const socketPath = path.join(world.sim.dir, 'second-qrexec.sock');
  const second = await startQrexecDaemon({
    dir: world.sim.dir,
    adminSocketPath: world.sim.adminSocket,
    socketPath,
  });
  const child = spawn(process.execPath, [CLIENT_VM, '@dispvm', 'test.Disp+hang0'], {
    env: { ...process.env, TMPL_SIM_QREXEC_SOCKET: socketPath },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  await waitFor(() => out.includes('ready\n'), 'the service to start');
  expect((await dispvms()).length).toBe(1);
  await second.close();
  expect(second.activeDisposables()).toEqual([]);
  expect(await dispvms()).toEqual([]);
  expect(await closed).toBe(125);
});

test('stopVm kills the services running in a VM; the caller sees the service die', async () => {
  const child = spawn(process.execPath, [CLIENT_VM, '@dispvm', 'test.Disp+hang1'], {
    env: { ...process.env, ...env() },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  await waitFor(() => out.includes('ready\n'), 'the service to start');
  world.sim.qrexec.stopVm(out.split('\n')[0]!);
  expect(await closed).toBe(137);
  await waitFor(async () => (await dispvms()).length === 0, 'clean-up');
});

test('tmpl.Worker from a tmpl-manager runs the installed service file in a disposable (70-tmpl.policy)', async () => {
  expect((await runClient(CLIENT_VM, ['@dispvm', 'tmpl.Worker'], env())).status).toBe(126);
  await world.sim.call('admin.vm.tag.Set', 'mgmt', 'tmpl-manager');
  try {
    // No request on stdin: the worker still greets with HELLO (frame type 0x10), then fails.
    const result = await runClient(CLIENT_VM, ['@dispvm', 'tmpl.Worker'], env());
    expect(result.stdout[0]).toBe(0x10);
    expect(result.status).not.toBe(0);
    expect([126, 127, 125]).not.toContain(result.status);
    expect((await runClient(CLIENT_VM, ['work', 'tmpl.Worker'], env())).status).toBe(126);
  } finally {
    await world.sim.call('admin.vm.tag.Remove', 'mgmt', 'tmpl-manager');
  }
  await waitFor(async () => (await dispvms()).length === 0, 'clean-up');
});

test('parallel calls get one disposable each, all removed', async () => {
  const results = await Promise.all(
    [0, 1, 2, 3].map(() => runClient(CLIENT_VM, ['@dispvm', 'test.Disp'], env())),
  );
  expect(results.map((r) => r.status)).toEqual([0, 0, 0, 0]);
  expect(new Set(results.map((r) => r.stdout.toString())).size).toBe(4);
  await waitFor(
    async () => (await dispvms()).length === 0 && world.sim.qrexec.activeDisposables().length === 0,
    'clean-up',
  );
});

test('a disposable that fails to start is removed and the call fails with 125', async () => {
  const failing = await startSim(
    {},
    {
      onStart: (vm) =>
        vm.klass === 'DispVM' ? Promise.reject(new Error('no memory left')) : Promise.resolve(),
    },
  );
  try {
    writePolicy(failing.dir, '10-test.policy', 'test.Disp * mgmt @dispvm allow\n');
    const result = await runClient(CLIENT_VM, ['@dispvm', 'test.Disp'], { TMPL_SIM_DIR: failing.dir });
    expect(result.status).toBe(125);
    expect(result.stderr).toMatch(/disposable disp\d+: .*no memory left/);
    const left = (await failing.call('admin.vm.List', 'dom0'))
      .split('\n')
      .filter((line) => line.includes('class=DispVM'));
    expect(left).toEqual([]);
  } finally {
    await failing.close();
  }
});
