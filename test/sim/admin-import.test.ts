import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { volumeImportMain } from '../../sim/admin/index.ts';
import { call, ok } from '../helpers/admin-raw-client.ts';
import { useSeededDaemon } from '../helpers/admin-daemon.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../sim/bin');
const MiB = 1024 * 1024;

const sim = useSeededDaemon({}, async (socket) => {
  await ok(socket, { method: 'admin.vm.Create.TemplateVM', payload: 'name=imp label=black' });
  await ok(socket, {
    method: 'admin.vm.CreateInPool.TemplateVM',
    payload: 'name=imp-small label=black pool=pool2',
  });
});

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** The real executable, as qrexec or the orchestrator runs it. */
function spawnImport(
  script: string,
  vm: string,
  volume: string,
  input: Buffer,
  env: Record<string, string> = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(BIN, script), volume], {
      env: {
        ...process.env,
        QREXEC_REMOTE_DOMAIN: 'dom0',
        QREXEC_REQUESTED_TARGET: vm,
        TMPL_QUBESD_SOCKET: sim.socket,
        ...env,
      },
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdin.on('error', () => undefined); // the script may exit without reading everything
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(input);
  });
}

/** The same entry point in this process (spawning costs a second per case). */
async function runImport(
  script: string,
  vm: string,
  volume: string,
  input: Buffer,
  env: Record<string, string> = {},
): Promise<Run> {
  const out: Buffer[] = [];
  let err = '';
  const stdout = new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) });
  const stderr = new Writable({ write: (c: Buffer, _e, cb) => ((err += c.toString()), cb()) });
  // Deliver the input in pipe-sized chunks, as a real stdin would.
  const chunks = Array.from({ length: Math.ceil(input.length / 65536) }, (_, i) =>
    input.subarray(i * 65536, (i + 1) * 65536),
  );
  const code = await volumeImportMain(
    [volume],
    path.join(BIN, script),
    {
      QREXEC_REMOTE_DOMAIN: 'dom0',
      QREXEC_REQUESTED_TARGET: vm,
      TMPL_QUBESD_SOCKET: sim.socket,
      ...env,
    },
    { stdin: Readable.from(chunks), stdout, stderr },
  );
  return { code, stdout: Buffer.concat(out), stderr: err };
}

/** A sparse-looking disk image: a few data extents in a sea of zeros. */
function image(size: number, seed: number): Buffer {
  const buf = Buffer.alloc(size);
  for (const offset of [0, Math.floor(size / 3), size - 5000]) {
    for (let i = 0; i < 4096 && offset + i < size; i++) buf[offset + i] = (seed * 31 + i * 7) % 251 || 1;
  }
  return buf;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function volumePath(vm: string, volume = 'root'): Promise<string> {
  const info = await ok(sim.socket, { method: 'admin.vm.volume.Info', dest: vm, arg: volume });
  return /^path=(.*)$/m.exec(info)![1]!;
}

async function importLeftovers(vm: string): Promise<string[]> {
  const dir = path.dirname(await volumePath(vm));
  return (await readdir(dir)).filter((f) => f.includes('-import'));
}

const withSize = (data: Buffer) => Buffer.concat([Buffer.from(`${data.length}\n`), data]);
const failure = (message: string) => `2\0QubesException\0\0Data import failed: ${message}\0`;

describe('admin.vm.volume.ImportWithSize', () => {
  const original = image(16 * MiB, 1);

  it('imports exactly SIZE bytes, byte-identical and sparse, and resizes the volume', async () => {
    const run = await spawnImport('admin.vm.volume.ImportWithSize.mjs', 'imp', 'root', withSize(original));
    expect(run.stderr).toBe('');
    expect(run.stdout.toString()).toBe('0\0');
    expect(run.code).toBe(0);
    const file = await volumePath('imp');
    expect(sha(await readFile(file))).toBe(sha(original));
    const st = await stat(file);
    expect(st.size).toBe(16 * MiB);
    // Three 4 KiB extents (each may straddle two 128 KiB blocks): far below the logical size.
    expect(st.blocks * 512).toBeLessThanOrEqual(6 * 128 * 1024);
    expect(await ok(sim.socket, { method: 'admin.vm.volume.Info', dest: 'imp', arg: 'root' })).toMatch(
      new RegExp(`^size=${16 * MiB}$`, 'm'),
    );
    expect(await importLeftovers('imp')).toEqual([]);
  });

  const failures: Array<[string, () => Buffer, (r: Run) => void]> = [
    [
      'too little data',
      () => Buffer.concat([Buffer.from(`${8 * MiB}\n`), image(8 * MiB - 1000, 2)]),
      (r) => {
        expect(r.stdout.toString()).toBe(
          failure(`not enough data (copied ${8 * MiB - 1000} bytes, expected ${8 * MiB} bytes)`),
        );
        expect(r.code).toBe(0);
      },
    ],
    [
      'too much data',
      () => Buffer.concat([Buffer.from(`${4 * MiB}\n`), image(4 * MiB + 1, 3)]),
      (r) => expect(r.stdout.toString()).toBe(failure(`too much data (expected ${4 * MiB} bytes)`)),
    ],
    [
      'a size with letters',
      () => Buffer.from('12a4\nxxxx'),
      (r) => {
        expect(r.stdout.toString()).toBe('2\0ProtocolError\0\0Size of new data contains non ASCII digits\0');
        expect(r.code).toBe(1);
      },
    ],
    [
      'a size with a leading zero',
      () => Buffer.from('0100\n'),
      (r) =>
        expect(r.stdout.toString()).toBe(
          '2\0ProtocolError\0\0Size of new data contains spurious leading zeros\0',
        ),
    ],
    [
      'a size of 20 digits',
      () => Buffer.from('12345678901234567890\n'),
      (r) =>
        expect(r.stdout.toString()).toBe(
          '2\0ProtocolError\0\0Size of new data is bigger than 19 decimal digits\0',
        ),
    ],
    [
      'a size line longer than 21 bytes',
      () => Buffer.from('1234567890123456789012\n'),
      (r) => {
        expect(r.stdout).toHaveLength(0);
        expect(r.stderr).toMatch(/No newline found in first 21 bytes/);
        expect(r.code).toBe(2);
      },
    ],
    [
      'a control byte in the size line',
      () => Buffer.from('12\r\n'),
      (r) => {
        expect(r.stdout).toHaveLength(0);
        expect(r.stderr).toMatch(/Invalid byte 13 in input/);
        expect(r.code).toBe(2);
      },
    ],
    [
      'no size line at all',
      () => Buffer.from('123'),
      (r) => {
        expect(r.stderr).toMatch(/End of input without a newline/);
        expect(r.code).toBe(2);
      },
    ],
  ];

  for (const [what, input, check] of failures) {
    it(`fails on ${what}, leaving the volume as it was`, async () => {
      const file = await volumePath('imp');
      const before = sha(await readFile(file));
      check(await runImport('admin.vm.volume.ImportWithSize.mjs', 'imp', 'root', input()));
      expect(sha(await readFile(file))).toBe(before);
      expect(await importLeftovers('imp')).toEqual([]);
    });
  }

  it('refuses a running qube', async () => {
    const file = await volumePath('imp');
    const before = sha(await readFile(file));
    await ok(sim.socket, { method: 'admin.vm.Start', dest: 'imp' });
    const run = await spawnImport(
      'admin.vm.volume.ImportWithSize.mjs',
      'imp',
      'root',
      withSize(image(MiB, 4)),
    );
    await ok(sim.socket, { method: 'admin.vm.Kill', dest: 'imp' });
    expect(run.stdout.toString()).toBe("2\0QubesVMNotHaltedError\0\0Domain is not powered off: 'imp'\0");
    expect(run.code).toBe(1);
    expect(sha(await readFile(file))).toBe(before);
    expect(await importLeftovers('imp')).toEqual([]);
  });

  it('refuses a size beyond the free space of the pool', async () => {
    const file = await volumePath('imp-small');
    const before = await stat(file);
    const run = await runImport(
      'admin.vm.volume.ImportWithSize.mjs',
      'imp-small',
      'root',
      Buffer.from(`${2 * 1024 * MiB}\n`),
    );
    expect(run.stdout.toString()).toMatch(
      /^2\0StoragePoolException\0\0Not enough free space in pool pool2: 2147483648 bytes requested, \d+ bytes free\0$/,
    );
    expect(run.code).toBe(1);
    expect((await stat(file)).size).toBe(before.size);
    expect(await importLeftovers('imp-small')).toEqual([]);
  });

  it('refuses a volume that is not saved on stop, and an unknown volume', async () => {
    const run = await runImport(
      'admin.vm.volume.ImportWithSize.mjs',
      'imp',
      'volatile',
      withSize(image(MiB, 5)),
    );
    expect(run.stdout.toString()).toBe(
      '2\0StoragePoolException\0\0Can not import into save_on_stop=False volume vm-templates/imp/volatile\0',
    );
    const unknown = await runImport(
      'admin.vm.volume.ImportWithSize.mjs',
      'imp',
      'swap',
      withSize(image(MiB, 5)),
    );
    expect(unknown.stdout.toString()).toBe('2\0ProtocolError\0\0Argument not in imp volumes\0');
  });
});

describe('admin.vm.volume.Import', () => {
  it('imports exactly the current size of the volume', async () => {
    await ok(sim.socket, {
      method: 'admin.vm.volume.Resize',
      dest: 'imp',
      arg: 'private',
      payload: String(2 * MiB),
    });
    const data = image(2 * MiB, 6);
    const run = await runImport('admin.vm.volume.Import.mjs', 'imp', 'private', data);
    expect(run.stdout.toString()).toBe('0\0');
    expect(sha(await readFile(await volumePath('imp', 'private')))).toBe(sha(data));
  });

  it('acts as ImportWithSize when qrexec names that service', async () => {
    const data = image(3 * MiB, 7);
    const run = await runImport('admin.vm.volume.Import.mjs', 'imp', 'private', withSize(data), {
      QREXEC_SERVICE_FULL_NAME: 'admin.vm.volume.ImportWithSize+private',
    });
    expect(run.stdout.toString()).toBe('0\0');
    expect(sha(await readFile(await volumePath('imp', 'private')))).toBe(sha(data));
  });

  it('keeps the internal calls off the Admin API socket', async () => {
    expect(
      await call(sim.socket, { method: 'internal.vm.volume.ImportBegin', dest: 'imp', arg: 'root' }),
    ).toMatchObject({
      type: 'ProtocolError',
      message: "no such method: 'internal.vm.volume.ImportBegin'",
    });
  });
});
