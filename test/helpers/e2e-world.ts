import { spawnSync } from 'node:child_process';
/**
 * End-to-end helpers: run the real `tmpl` CLI against a scenario (sim/scenario.ts), and look at
 * the simulated Qubes afterwards with a qubesd client of the tests' own (test/helpers/admin-raw-client.ts),
 * never through the orchestrator's client under test.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { Readable } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seededBytes, type ImageExtent, type ImageSpec, type SigningKey } from '../../sim/forge/index.ts';
import {
  createScenario,
  SCENARIO_REPO_ID,
  type Scenario,
  type ScenarioTemplate,
} from '../../sim/scenario.ts';
import { SERVICE_TABLE_FILE, type ServiceEntry } from '../../sim/qrexec/service-table.ts';
import { call, ok } from './admin-raw-client.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MiB = 1024 * 1024;
/** One CLI run: two disposables (query, fetch) on a loaded 2-core machine. */
export const CLI_TIMEOUT_MS = 180_000;

/**
 * A small template: a 24 MiB sparse image with ~2.1 MiB of data in three extents (the last one
 * ends the image), split into 1 MiB parts, with template.conf and menu lists.
 */
export function smallTemplate(
  name: string,
  version: string,
  release: string,
  seed: string,
  extra: Partial<ScenarioTemplate> = {},
): ScenarioTemplate {
  const size = 24 * MiB;
  return {
    name,
    version,
    release,
    image: {
      size,
      extents: [
        { offset: 0, length: MiB + 4096, seed: `${seed}-a` },
        { offset: 9 * MiB + 512, length: MiB, seed: `${seed}-b` },
        { offset: size - 64 * 1024, length: 64 * 1024, seed: `${seed}-c` },
      ],
    },
    compressor: 'zstd',
    partSize: MiB,
    templateConf: 'gui=1\nqrexec=1\nvirt-mode=hvm\nnet.fake-ip=10.137.0.5\nbogus-key=1\n',
    appmenus: {
      whitelisted: 'org.gnome.Terminal.desktop\nfirefox.desktop\n',
      vm: 'org.gnome.Terminal.desktop\n',
      netvm: 'nm-connection-editor.desktop\n',
    },
    summary: `Test template ${name}`,
    description: `A ${name} template forged for end-to-end tests.\nSecond line.`,
    license: 'GPL-2.0-or-later',
    url: 'https://example.invalid/templates',
    ...extra,
  };
}

/** The dense bytes of an image an ImageSpec describes (extents in order, zeros between). */
export async function* denseImage(spec: {
  size: number;
  extents: readonly ImageExtent[];
}): AsyncGenerator<Uint8Array> {
  const zeros = new Uint8Array(MiB);
  function* fill(n: number): Generator<Uint8Array> {
    for (let left = n; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
  }
  let position = 0;
  for (const extent of [...spec.extents].sort((a, b) => a.offset - b.offset)) {
    if (extent.offset < position) throw new Error('overlapping extents');
    yield* fill(extent.offset - position);
    if ('bytes' in extent) {
      yield extent.bytes;
      position = extent.offset + extent.bytes.length;
    } else {
      yield* seededBytes(extent.seed, extent.length);
      position = extent.offset + extent.length;
    }
  }
  yield* fill(spec.size - position);
}

/** sha256 of the dense image an ImageSpec describes. */
export async function imageSha256(spec: ImageSpec): Promise<string> {
  if ('path' in spec) return fileSha256(spec.path);
  const hash = createHash('sha256');
  for await (const chunk of denseImage(spec)) hash.update(chunk);
  return hash.digest('hex');
}

export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface TmplRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/tmpl.mjs ARGS... <scenario args>` with the scenario's environment. */
export async function runTmpl(
  scenario: Scenario,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<TmplRun> {
  const result = await execa(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/tmpl.mjs'), ...args, ...scenario.args],
    {
      env: { ...scenario.env, TMPL_STATE_DIR: path.join(scenario.dir, 'tmpl-state'), ...env },
      reject: false,
      timeout: CLI_TIMEOUT_MS,
      stdin: 'ignore',
    },
  );
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** The `--json` object a run printed on stdout (its last line). */
export function jsonOf(run: TmplRun): {
  ok: boolean;
  command: string | null;
  error?: { code: string; message: string };
  templates?: { template: string; status: string; evr?: string; package?: string; message?: string }[];
} {
  const lines = run.stdout.trim().split('\n');
  try {
    return JSON.parse(lines.at(-1) ?? '') as ReturnType<typeof jsonOf>;
  } catch {
    throw new Error(`no JSON on stdout; exit ${run.exitCode}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

/** Asserts a successful run, showing its output when it failed. */
export function expectSuccess(run: TmplRun): void {
  expect(run.exitCode, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
}

/**
 * Asserts a failed `--json` run with the given stable error code, and with exit status
 * `exitCode` when given (any non-zero status otherwise).
 */
export function expectFailure(run: TmplRun, code: string, exitCode?: number): void {
  const output = `stdout: ${run.stdout}\nstderr: ${run.stderr}`;
  if (exitCode === undefined) expect(run.exitCode, output).not.toBe(0);
  else expect(run.exitCode, output).toBe(exitCode);
  const json = jsonOf(run);
  expect(json.ok).toBe(false);
  expect(json.error?.code, json.error?.message).toBe(code);
}

/** Read-only views of the simulated Qubes, through qubesd's socket as dom0. */
export class SimQubes {
  constructor(private readonly socket: string) {}

  static of(scenario: Scenario): SimQubes {
    return new SimQubes(scenario.sim.env.TMPL_QUBESD_SOCKET!);
  }

  async vms(): Promise<{ name: string; klass: string; state: string }[]> {
    const text = await ok(this.socket, { method: 'admin.vm.List' });
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((line) => {
        const [name = '', ...rest] = line.split(' ');
        const props = Object.fromEntries(rest.map((kv) => kv.split('=') as [string, string]));
        return { name, klass: props.class ?? '', state: props.state ?? '' };
      });
  }

  async vmNames(): Promise<string[]> {
    return (await this.vms()).map((v) => v.name).sort();
  }

  async volumeInfo(vm: string, volume: string): Promise<Record<string, string>> {
    const text = await ok(this.socket, { method: 'admin.vm.volume.Info', dest: vm, arg: volume });
    return Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  /** The file behind a file-pool volume. */
  async volumePath(vm: string, volume: string): Promise<string> {
    const file = (await this.volumeInfo(vm, volume)).path;
    if (!file) throw new Error(`${vm}:${volume} has no path`);
    return file;
  }

  async features(vm: string): Promise<Map<string, string>> {
    const names = (await ok(this.socket, { method: 'admin.vm.feature.List', dest: vm }))
      .split('\n')
      .filter((l) => l !== '');
    const result = new Map<string, string>();
    for (const name of names)
      result.set(name, await ok(this.socket, { method: 'admin.vm.feature.Get', dest: vm, arg: name }));
    return result;
  }

  /** `{ isDefault, value }` of a VM property. */
  async property(vm: string, property: string): Promise<{ isDefault: boolean; value: string }> {
    const text = await ok(this.socket, { method: 'admin.vm.property.Get', dest: vm, arg: property });
    const match = /^default=(True|False) type=[a-z]+ ?([\s\S]*)$/.exec(text);
    if (!match) throw new Error(`malformed property reply '${text}'`);
    return { isDefault: match[1] === 'True', value: match[2]! };
  }

  async tagSet(vm: string, tag: string): Promise<void> {
    const reply = await call(this.socket, { method: 'admin.vm.tag.Set', dest: vm, arg: tag });
    if (reply.kind !== 'ok') throw new Error(`tag.Set failed: ${JSON.stringify(reply)}`);
  }
}

/** Files a volume import left behind in the simulator's pools (sim/admin/storage.ts: `<vid>-import.img`). */
export async function importLeftovers(simDir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.includes('-import')) found.push(full);
    }
  };
  await walk(path.join(simDir, 'pools'));
  return found;
}

/** Names of disposables that exist now. */
export async function disposables(qubes: SimQubes): Promise<string[]> {
  return (await qubes.vms())
    .filter((v) => v.klass === 'DispVM' || /^disp[0-9]/.test(v.name))
    .map((v) => v.name);
}

/**
 * Replaces the tmpl.Worker service of the disposables' template (default-dvm) through the
 * simulator's service table; `null` restores the built-in worker.
 */
export async function setWorkerService(scenario: Scenario, entry: ServiceEntry | null): Promise<void> {
  const table = entry ? { vms: { 'default-dvm': { 'tmpl.Worker': entry } } } : { vms: {} };
  await writeFile(path.join(scenario.sim.env.TMPL_SIM_DIR!, SERVICE_TABLE_FILE), JSON.stringify(table));
}

/** test/helpers/lying-worker.ts as the disposable's tmpl.Worker, telling `lie`. */
export function lyingWorker(
  lie: string,
  env: Record<string, string> = {},
  binds: string[] = [],
): ServiceEntry {
  return {
    argv: [process.execPath, '{repo}/bin/run-ts.mjs', '{repo}/test/helpers/lying-worker.ts'],
    env: { TMPL_LIE: lie, ...env },
    ...(binds.length > 0 ? { readOnlyBinds: binds } : {}),
  };
}

/**
 * Puts a managed template in place without tmpl, as a previous install would have left it: a
 * TemplateVM labelled black, its root volume imported through the simulator's dom0 import
 * service, the template-* features of `template` (so tmpl sees it at that EVR) and
 * installed_by_rpm False. Attacks on reinstall/upgrade start from this state. `pool`: where its
 * volumes go (default: default_pool).
 */
export async function plantTemplate(
  scenario: Scenario,
  template: ScenarioTemplate,
  pool?: string,
): Promise<void> {
  const socket = scenario.sim.env.TMPL_QUBESD_SOCKET!;
  const name = template.name;
  await ok(
    socket,
    pool
      ? { method: 'admin.vm.CreateInPool.TemplateVM', payload: `name=${name} label=black pool=${pool}` }
      : { method: 'admin.vm.Create.TemplateVM', payload: `name=${name} label=black` },
  );
  if ('path' in template.image) throw new Error('plantTemplate needs an extent image');
  const image = template.image;
  const script = path.join(scenario.sim.env.TMPL_QREXEC_SERVICES_DIR!, 'admin.vm.volume.ImportWithSize');
  const importing = execa(script, ['root'], {
    env: { ...scenario.env, QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_REQUESTED_TARGET: name },
    input: Readable.from(
      (async function* () {
        yield new TextEncoder().encode(`${image.size}\n`);
        yield* denseImage(image);
      })(),
    ),
    encoding: 'buffer',
  });
  const reply = Buffer.from((await importing).stdout);
  if (reply[0] !== 0x30) throw new Error(`planting ${name}: import failed: ${reply.toString('latin1')}`);
  const features: Record<string, string> = {
    'template-name': name,
    'template-epoch': String(template.epoch ?? 0),
    'template-version': template.version,
    'template-release': template.release,
    'template-reponame': SCENARIO_REPO_ID,
    'template-buildtime': '2026-01-01 00:00:00',
    'template-installtime': '2026-01-02 00:00:00',
    'template-license': template.license ?? 'GPLv3+',
    'template-url': template.url ?? 'https://www.qubes-os.org',
    'template-summary': template.summary ?? name,
    'template-description': (template.description ?? name).replace(/\n/g, '|'),
  };
  for (const [feature, value] of Object.entries(features))
    await ok(socket, { method: 'admin.vm.feature.Set', dest: name, arg: feature, payload: value });
  await ok(socket, {
    method: 'admin.vm.property.Set',
    dest: name,
    arg: 'installed_by_rpm',
    payload: 'False',
  });
}

/** Everything an attack must leave untouched: the VM list, a template's root volume, no leftovers. */
/** Properties an install or update may change: a refused one must leave them as they were. */
const WATCHED_PROPERTIES = ['label', 'netvm', 'virt_mode', 'kernel', 'installed_by_rpm'] as const;

export interface Snapshot {
  readonly vms: readonly string[];
  readonly root?: string;
  readonly private?: string;
  readonly features?: Readonly<Record<string, string>>;
  readonly properties?: Readonly<Record<string, string>>;
}

async function volumeSha256(qubes: SimQubes, vm: string, volume: string): Promise<string> {
  const file = await qubes.volumePath(vm, volume);
  return existsSync(file) ? fileSha256(file) : 'absent';
}

export async function snapshot(scenario: Scenario, template?: string): Promise<Snapshot> {
  const qubes = SimQubes.of(scenario);
  const vms = await qubes.vmNames();
  if (!template || !vms.includes(template)) return { vms };
  const properties: Record<string, string> = {};
  for (const name of WATCHED_PROPERTIES) {
    const p = await qubes.property(template, name);
    properties[name] = `${p.isDefault ? 'default' : 'set'}:${p.value}`;
  }
  return {
    vms,
    root: await volumeSha256(qubes, template, 'root'),
    private: await volumeSha256(qubes, template, 'private'),
    features: Object.fromEntries(await qubes.features(template)),
    properties,
  };
}

/** True when no process holds the scenario's operation lock. */
function lockFree(scenario: Scenario): boolean {
  const lock = scenario.env.TMPL_LOCK_FILE;
  if (!lock || !existsSync(lock)) return true;
  return spawnSync('flock', ['--nonblock', lock, 'true']).status === 0;
}

/**
 * What every refusal must leave: the same VMs; the template's root and private volumes byte for
 * byte, its features and the properties an install sets; no disposable, no temporary import
 * volume, and the operation lock free.
 */
export async function expectUntouched(
  scenario: Scenario,
  before: Snapshot,
  template?: string,
): Promise<void> {
  const after = await snapshot(scenario, before.root !== undefined ? template : undefined);
  expect(after.vms).toEqual(before.vms);
  if (before.root !== undefined) {
    expect(after.root).toBe(before.root);
    expect(after.private).toBe(before.private);
    expect(after.features).toEqual(before.features);
    expect(after.properties).toEqual(before.properties);
  }
  expect(await disposables(SimQubes.of(scenario))).toEqual([]);
  expect(await importLeftovers(scenario.sim.env.TMPL_SIM_DIR!)).toEqual([]);
  expect(lockFree(scenario)).toBe(true);
}

/** One attack's world: its own directory and scenario, and the state the attack must not change. */
export interface AttackWorld {
  readonly dir: string;
  readonly scenario: Scenario;
  readonly before: Snapshot;
}

export interface AttackSetup {
  /** Templates the repository serves. */
  readonly templates: readonly ScenarioTemplate[];
  /** Installed before the attack, with a root volume no package holds (see plantTemplate). */
  readonly planted?: ScenarioTemplate;
  /** The disposables' tmpl.Worker for the attack (e.g. a lyingWorker); default the real one. */
  readonly worker?: (scenario: Scenario) => ServiceEntry;
  /** The repository's signing key (default: a new one). */
  readonly key?: SigningKey;
  /** The .repo file's repo_gpgcheck (see createScenario). */
  readonly repoGpgcheck?: boolean;
  /** More setup before the snapshot is taken. */
  readonly prepare?: (scenario: Scenario, dir: string) => Promise<void>;
  /** defineAttack's timeout for building the world (default ATTACK_SETUP_TIMEOUT_MS). */
  readonly setupTimeoutMs?: number;
}

/**
 * The usual world of an attack on an installed template: `name` installed at 4.2.0-1 with a root
 * volume no package holds, the repository serving 4.2.0-RELEASE for each of `releases`, and the
 * disposables' tmpl.Worker telling `lie` (lying-worker.ts) when given.
 */
export function installedVictim(name: string, releases: readonly string[], lie?: string): AttackSetup {
  return {
    templates: releases.map((release) => smallTemplate(name, '4.2.0', release, `${name}-${release}`)),
    planted: smallTemplate(name, '4.2.0', '1', `${name}-planted`),
    ...(lie ? { worker: () => lyingWorker(lie) } : {}),
  };
}

export async function attackWorld(prefix: string, setup: AttackSetup): Promise<AttackWorld> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const scenario = await createScenario({
    dir,
    templates: [...setup.templates],
    ...(setup.key ? { key: setup.key } : {}),
    ...(setup.repoGpgcheck !== undefined ? { repoGpgcheck: setup.repoGpgcheck } : {}),
  });
  if (setup.planted) await plantTemplate(scenario, setup.planted);
  if (setup.worker) await setWorkerService(scenario, setup.worker(scenario));
  await setup.prepare?.(scenario, dir);
  const before = await snapshot(scenario, setup.planted?.name);
  return { dir, scenario, before };
}

export async function closeAttackWorld(world: AttackWorld | undefined): Promise<void> {
  await world?.scenario.close();
  if (world) await rm(world.dir, { recursive: true, force: true });
}

/** How long an attack's world may take to build: forging packages and the simulator's start. */
export const ATTACK_SETUP_TIMEOUT_MS = 180_000;

/** One attack against a world: one tmpl run that must be refused and leave the world as it was. */
export interface AttackCase {
  /** The test's title: what the attack does, and what stops it. */
  readonly name: string;
  /** tmpl's arguments; `--json` is added. */
  readonly argv: readonly string[];
  /** The stable `--json` error code of the refusal. */
  readonly code: string;
  /** The exact exit status (default 1, what every refusal but a usage error exits with). */
  readonly exitCode?: number;
  /** More environment for the run (e.g. small timeouts). */
  readonly env?: Record<string, string>;
  /**
   * The disposables' tmpl.Worker for this run (`null`: the real one). Without it the case runs
   * with the setup's worker.
   */
  readonly worker?: ((scenario: Scenario) => ServiceEntry) | null;
  /** What the attacker changes in the world just before the run (e.g. the mirror's files). */
  readonly arrange?: (world: AttackWorld) => Promise<void>;
  /** More assertions once the refusal and expectUntouched held (elapsed time, stderr, state). */
  readonly check?: (run: TmplRun, world: AttackWorld, elapsedMs: number) => void | Promise<void>;
  /** The test's timeout (default CLI_TIMEOUT_MS: one run). */
  readonly timeoutMs?: number;
}

/**
 * Case fields for an attack that must meet a running import, which Qubes then discards: the run
 * logs at info level, and its log shows that the root volume's import had begun.
 */
export const MEETS_RUNNING_IMPORT = {
  env: { TMPL_LOG_LEVEL: 'info' },
  check: (run: TmplRun): void => {
    expect(run.stderr).toContain('importing root volume');
  },
} as const satisfies Partial<AttackCase>;

/**
 * Registers one attack file's tests: a world built by attackWorld before them (closed after
 * them), and per case a `--json` run that must fail with the case's exit status and error code,
 * leave the world as expectUntouched wants it, and pass the case's own check. Cases run in order
 * against the same world.
 */
export function defineAttack(prefix: string, setup: AttackSetup, cases: readonly AttackCase[]): void {
  let world: AttackWorld | undefined;
  let workerChanged = false;
  beforeAll(async () => {
    world = await attackWorld(prefix, setup);
  }, setup.setupTimeoutMs ?? ATTACK_SETUP_TIMEOUT_MS);
  afterAll(() => closeAttackWorld(world));
  for (const attack of cases) {
    it(
      attack.name,
      async () => {
        if (!world) throw new Error('the attack world was not built');
        const { scenario, before } = world;
        if (attack.worker !== undefined) {
          await setWorkerService(scenario, attack.worker?.(scenario) ?? null);
          workerChanged = true;
        } else if (workerChanged) {
          await setWorkerService(scenario, setup.worker?.(scenario) ?? null);
          workerChanged = false;
        }
        await attack.arrange?.(world);
        const started = Date.now();
        const run = await runTmpl(scenario, [...attack.argv, '--json'], attack.env);
        const elapsedMs = Date.now() - started;
        expectFailure(run, attack.code, attack.exitCode ?? 1);
        await expectUntouched(scenario, before, setup.planted?.name);
        await attack.check?.(run, world, elapsedMs);
      },
      attack.timeoutMs ?? CLI_TIMEOUT_MS,
    );
  }
}
