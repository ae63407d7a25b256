/** Services of simulated VMs run under bubblewrap: no view of the simulator's state, private /tmp. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { startQrexecDaemon } from '../../sim/qrexec/index.ts';
import { bubblewrapArgs, probeBubblewrap } from '../../sim/qrexec/sandbox.ts';
import {
  CLIENT_VM,
  REPO,
  runClient,
  writePolicy,
  writeServiceTable,
  useQrexecSim,
} from '../helpers/qrexec-helpers.ts';

const MiB = 1024 * 1024;
let server: http.Server;
let port: number;
let hostTmpMarker: string;

const PROBE = `
import fs from 'node:fs';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
const paths = JSON.parse(process.env.PROBE_PATHS);
const out = {};
const attempt = (fn) => { try { return fn(); } catch (e) { return 'error:' + e.code; } };
out.simDir = attempt(() => fs.readdirSync(paths.simDir));
out.stateFile = attempt(() => fs.readFileSync(paths.stateFile).length);
out.adminSocket = await new Promise((resolve) => {
  const s = net.createConnection(paths.adminSocket);
  s.on('connect', () => { s.destroy(); resolve('connected'); });
  s.on('error', (e) => resolve('error:' + e.code));
});
out.hostTmpMarker = fs.existsSync(paths.hostTmpMarker);
out.earlierTmpFile = fs.existsSync('/tmp/left-by-earlier-call');
fs.writeFileSync('/tmp/left-by-earlier-call', 'x');
out.tmpFill = attempt(() => { fs.writeFileSync('/tmp/fill', Buffer.alloc(${16 * MiB})); return 'wrote'; });
fs.rmSync('/tmp/fill', { force: true });
out.repoWrite = attempt(() => { fs.writeFileSync(paths.repo + '/sandbox-was-here', 'x'); fs.rmSync(paths.repo + '/sandbox-was-here'); return 'wrote'; });
out.shadow = attempt(() => fs.readFileSync('/etc/shadow').length);
out.uid = process.getuid();
out.node = process.version;
out.capEff = /CapEff:\\s+(\\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1];
out.processes = fs.readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).length;
out.http = await fetch('http://127.0.0.1:' + paths.port + '/').then((r) => r.text(), (e) => 'error:' + e.message);
const inner = spawnSync(process.execPath, [process.env.TMPL_QREXEC_CLIENT_VM, 'dom0', 'admin.vm.List'], {
  env: { ...process.env, TMPL_SIM_SOURCE_VM: 'mgmt' }, encoding: 'latin1' });
out.innerAsDisposable = [inner.status, inner.stdout.slice(0, 2)];
const impersonate = spawnSync(process.execPath, [process.env.TMPL_QREXEC_CLIENT_VM, 'dom0', 'admin.vm.property.Get+netvm'], {
  env: { ...process.env, TMPL_SIM_SOURCE_VM: 'mgmt' }, encoding: 'latin1' });
out.innerAsMgmt = [impersonate.status, impersonate.stderr];
const dom0Path = spawnSync(process.execPath, [paths.repo + '/sim/bin/qrexec-client.mjs', '-d', 'work', 'DEFAULT:QUBESRPC test.Probe dom0'], {
  encoding: 'latin1' });
out.dom0PathFromVm = [dom0Path.status, dom0Path.stderr];
process.stdout.write(JSON.stringify(out));
`;

async function probe(socketPath?: string): Promise<Record<string, unknown>> {
  const result = await runClient(
    CLIENT_VM,
    ['@dispvm', 'test.Probe'],
    socketPath ? { TMPL_SIM_QREXEC_SOCKET: socketPath } : { TMPL_SIM_DIR: world.sim.dir },
  );
  expect([result.status, result.stderr]).toEqual([0, '']);
  return JSON.parse(result.stdout.toString()) as Record<string, unknown>;
}

const world = useQrexecSim(
  'qrx-sbx-',
  async (sim, fixtures) => {
    fs.writeFileSync(path.join(fixtures, 'probe.mjs'), PROBE);
    hostTmpMarker = path.join(os.tmpdir(), `qrx-host-marker-${process.pid}`);
    fs.writeFileSync(hostTmpMarker, 'host');
    server = http.createServer((_req, res) => res.end('served on the host'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    const stateFile = fs.readdirSync(sim.dir, { withFileTypes: true }).find((entry) => entry.isFile())!.name;
    writeServiceTable(sim.dir, {
      'debian-12-xfce': {
        'test.Probe': {
          argv: ['node', path.join(fixtures, 'probe.mjs')],
          readOnlyBinds: [fixtures],
          env: {
            PROBE_PATHS: JSON.stringify({
              simDir: sim.dir,
              stateFile: path.join(sim.dir, stateFile),
              adminSocket: sim.adminSocket,
              hostTmpMarker,
              repo: REPO,
              port,
            }),
          },
        },
      },
    });
    writePolicy(
      sim.dir,
      '10-test.policy',
      [
        'test.Probe * mgmt @dispvm allow',
        'admin.vm.List * @type:DispVM @adminvm allow target=dom0',
        'admin.vm.property.Get * mgmt @adminvm allow target=dom0',
        '',
      ].join('\n'),
    );
  },
  { sandboxTmpBytes: 8 * MiB },
);

afterAll(() => {
  server?.close();
  fs.rmSync(hostTmpMarker, { force: true });
});

describe.skipIf(!probeBubblewrap(REPO).available)('with bubblewrap', () => {
  test('a disposable sees none of the simulator, has a private bounded /tmp, reaches 127.0.0.1', async () => {
    expect(world.sim.qrexec.sandboxed).toBe(true);
    const first = await probe();
    expect(first).toMatchObject({
      simDir: 'error:ENOENT',
      stateFile: 'error:ENOENT',
      adminSocket: 'error:ENOENT',
      hostTmpMarker: false,
      earlierTmpFile: false,
      tmpFill: 'error:ENOSPC',
      repoWrite: 'error:EROFS',
      shadow: 'error:ENOENT',
      uid: 1000,
      capEff: '0000000000000000',
      http: 'served on the host',
      // \`node\` in a VM is the Node.js the simulator runs on (the Node 22 run of the suite too).
      node: process.version,
    });
    expect(first.processes).toBeLessThan(10);
    // Its own calls are attributed to the disposable, whatever it claims to be.
    expect(first.innerAsDisposable).toEqual([0, '0\0']);
    expect(first.innerAsMgmt).toEqual([126, 'Request refused\n']);
    // dom0's policy-free qrexec-client path is not open to a VM.
    expect(first.dom0PathFromVm).toEqual([126, 'Request refused\n']);
    // Every call gets a fresh /tmp.
    expect((await probe()).earlierTmpFile).toBe(false);
  });

  test('positive control: the same probe without the sandbox sees the state directory', async () => {
    const socketPath = path.join(world.sim.dir, 'plain-qrexec.sock');
    const plain = await startQrexecDaemon({
      dir: world.sim.dir,
      adminSocketPath: world.sim.adminSocket,
      socketPath,
      sandbox: 'none',
    });
    try {
      expect(plain.sandboxed).toBe(false);
      const seen = await probe(socketPath);
      expect(Array.isArray(seen.simDir)).toBe(true);
      expect(seen.adminSocket).toBe('connected');
      expect(seen.hostTmpMarker).toBe(true);
      expect(seen.repoWrite).toBe('wrote');
      expect(seen.node).toBe(process.version);
    } finally {
      await plain.close();
    }
  });

  test('a state directory inside the repository is covered by an empty tmpfs', () => {
    const fakeRepo = fs.mkdtempSync(path.join(os.tmpdir(), 'qrx-repo-'));
    try {
      fs.mkdirSync(path.join(fakeRepo, 'state'));
      fs.writeFileSync(path.join(fakeRepo, 'state', 'secret'), 'key');
      fs.writeFileSync(path.join(fakeRepo, 'code.mjs'), '');
      const list = (hide: string[]): string =>
        spawnSync(
          'bwrap',
          bubblewrapArgs({ repoRoot: fakeRepo, hide, tmpBytes: MiB }, [
            '/bin/ls',
            '-A',
            fakeRepo,
            `${fakeRepo}/state`,
          ]),
          {
            encoding: 'utf8',
          },
        ).stdout;
      expect(list([])).toMatch(/secret/);
      const hidden = list([path.join(fakeRepo, 'state')]);
      expect(hidden).toMatch(/code\.mjs/);
      expect(hidden).not.toMatch(/secret/);
    } finally {
      fs.rmSync(fakeRepo, { recursive: true, force: true });
    }
  });
});

test('without a working bubblewrap: plain processes and a clear warning on stderr', async () => {
  expect(probeBubblewrap(REPO, '/nonexistent/bwrap').available).toBe(false);
  const writes: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  });
  const socketPath = path.join(world.sim.dir, 'nobwrap-qrexec.sock');
  try {
    const daemon = await startQrexecDaemon({
      dir: world.sim.dir,
      adminSocketPath: world.sim.adminSocket,
      socketPath,
      bubblewrapPath: '/nonexistent/bwrap',
    });
    expect(daemon.sandboxed).toBe(false);
    await daemon.close();
  } finally {
    spy.mockRestore();
  }
  expect(writes.join('')).toMatch(/warning: bubblewrap unavailable .*WITHOUT isolation/);
  await expect(
    startQrexecDaemon({
      dir: world.sim.dir,
      adminSocketPath: world.sim.adminSocket,
      socketPath,
      sandbox: 'bubblewrap',
      bubblewrapPath: '/nonexistent/bwrap',
    }),
  ).rejects.toMatchObject({ code: 'qrexec.service' });
});
