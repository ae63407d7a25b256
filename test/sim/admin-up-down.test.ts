import { execFile, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../helpers/admin-raw-client.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TMPL_SIM = path.join(REPO, 'bin/tmpl-sim.mjs');
const run = promisify(execFile);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

let dir: string;
let env: Record<string, string>;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sim-up-'));
});
afterAll(async () => {
  await run(process.execPath, [TMPL_SIM, 'down', '--dir', dir]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('tmpl-sim up / down', () => {
  it('up starts the simulator in the background and prints export lines', async () => {
    const { stdout } = await run(process.execPath, [TMPL_SIM, 'up', '--dir', dir, '--seed']);
    const lines = stdout.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^export [A-Z_]+=\S+$/);
    env = Object.fromEntries(
      lines.map((l) => l.slice('export '.length).split(/=(.*)/s).slice(0, 2)),
    ) as Record<string, string>;
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining([
        'TMPL_QUBESD_SOCKET',
        'TMPL_VOLUME_IMPORT',
        'TMPL_QREXEC_CLIENT',
        'TMPL_QREXEC_CLIENT_VM',
        'TMPL_MODE',
        'TMPL_SIM_DIR',
      ]),
    );
    expect(env.TMPL_MODE).toBe('dom0');
    expect(env.TMPL_SIM_DIR).toBe(dir);
    // The release the simulator plays, as a real dom0 tells it.
    expect(env.TMPL_RELEASEVER).toBe('4.3');
    expect(await ok(env.TMPL_QUBESD_SOCKET!, { method: 'admin.vm.List', dest: 'sys-firewall' })).toMatch(
      /^sys-firewall class=AppVM state=Halted/,
    );
    expect(await ok(env.TMPL_QUBESD_SOCKET!, { method: 'admin.property.Get', arg: 'updatevm' })).toBe(
      'default=False type=vm sys-firewall',
    );
    const pid = Number(await readFile(path.join(dir, 'sim.pid'), 'utf8'));
    expect(alive(pid)).toBe(true);
  });

  it('serves the import services from the exported services directory', async () => {
    await ok(env.TMPL_QUBESD_SOCKET!, {
      method: 'admin.vm.Create.TemplateVM',
      payload: 'name=up-tpl label=black',
    });
    const data = Buffer.alloc(1024 * 1024, 7);
    const script = path.join(env.TMPL_QREXEC_SERVICES_DIR!, 'admin.vm.volume.ImportWithSize');
    const reply = await new Promise<string>((resolve, reject) => {
      const child = spawn(script, ['root'], {
        env: { ...process.env, ...env, QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_REQUESTED_TARGET: 'up-tpl' },
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(out));
      child.stdin.end(Buffer.concat([Buffer.from(`${data.length}\n`), data]));
    });
    expect(reply).toBe('0\0');
    const info = await ok(env.TMPL_QUBESD_SOCKET!, {
      method: 'admin.vm.volume.Info',
      dest: 'up-tpl',
      arg: 'root',
    });
    expect(await readFile(/^path=(.*)$/m.exec(info)![1]!)).toEqual(data);
  });

  it('refuses a second up on the same directory', async () => {
    await expect(run(process.execPath, [TMPL_SIM, 'up', '--dir', dir])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/already runs/),
    });
  });

  it('down stops everything and removes the sockets; state survives for the next up', async () => {
    const pid = Number(await readFile(path.join(dir, 'sim.pid'), 'utf8'));
    await run(process.execPath, [TMPL_SIM, 'down', '--dir', dir]);
    expect(alive(pid)).toBe(false);
    for (const name of ['qubesd.sock', 'qubesd.internal.sock', 'qrexec.sock', 'sim.pid'])
      expect(await exists(path.join(dir, name)), name).toBe(false);
    expect(await readFile(path.join(dir, 'sim.log'), 'utf8')).toMatch(/simulator stopping/);
    await run(process.execPath, [TMPL_SIM, 'down', '--dir', dir]);

    const { stdout } = await run(process.execPath, [TMPL_SIM, 'up', '--dir', dir]);
    const socket = /^export TMPL_QUBESD_SOCKET=(\S+)$/m.exec(stdout)![1]!;
    expect(await ok(socket, { method: 'admin.vm.List', dest: 'up-tpl' })).toMatch(/^up-tpl class=TemplateVM/);
    await run(process.execPath, [TMPL_SIM, 'down', '--dir', dir]);
  });

  it('up takes the cost of starting a disposable from TMPL_SIM_DISPVM_START_MS in its environment', async () => {
    const { stdout } = await run(process.execPath, [TMPL_SIM, 'up', '--dir', dir], {
      env: { ...process.env, TMPL_SIM_DISPVM_START_MS: '500' },
    });
    try {
      const socket = /^export TMPL_QUBESD_SOCKET=(\S+)$/m.exec(stdout)![1]!;
      const disp = await ok(socket, { method: 'admin.vm.CreateDisposable' });
      const before = Date.now();
      await ok(socket, { method: 'admin.vm.Start', dest: disp });
      // A lower bound only: a busy machine makes it longer, never shorter.
      expect(Date.now() - before).toBeGreaterThanOrEqual(495);
      expect(await ok(socket, { method: 'admin.vm.CurrentState', dest: disp })).toMatch(
        / power_state=Running$/,
      );
      await ok(socket, { method: 'admin.vm.Kill', dest: disp });
    } finally {
      await run(process.execPath, [TMPL_SIM, 'down', '--dir', dir]);
    }
  });
});
