/**
 * Security tests as one small file each: an attack's world (a scenario, maybe a planted
 * template and a lying worker), a snapshot of what the attack must not change, and
 * defineAttack, which runs each case as `tmpl ... --json`, expects the exact refusal and then
 * expectUntouched: the same VMs, the victim's volumes byte for byte, its features and
 * properties, and no disposable, import volume or held lock left behind.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SigningKey } from '../../../sim/forge/index.ts';
import { createScenario, type Scenario, type ScenarioTemplate } from '../../../sim/scenario.ts';
import { disposablesAfterCleanup, importLeftovers, lockIsFree, Qubes } from './qubes-view.ts';
import { expectFailure, runTmpl, RUN_TIMEOUT_MS, type TmplRun } from './run.ts';
import { lyingWorker, setWorkerService, type ServiceEntry } from './services.ts';
import { plantTemplate, smallTemplate } from './templates.ts';

/** Properties an install or update may change: a refused one must leave them as they were. */
const WATCHED_PROPERTIES = ['label', 'netvm', 'virt_mode', 'kernel', 'installed_by_rpm'] as const;

/** What an attack must not change: the VM list and, when given, one template's state. */
export interface Snapshot {
  readonly vms: readonly string[];
  readonly root?: string;
  readonly private?: string;
  readonly features?: Readonly<Record<string, string>>;
  readonly properties?: Readonly<Record<string, string>>;
}

export async function snapshot(scenario: Scenario, template?: string): Promise<Snapshot> {
  const qubes = Qubes.of(scenario);
  const vms = await qubes.vmNames();
  if (!template || !vms.includes(template)) return { vms };
  const properties: Record<string, string> = {};
  for (const name of WATCHED_PROPERTIES) {
    const p = await qubes.propertyInfo(template, name);
    properties[name] = `${p.isDefault ? 'default' : 'set'}:${p.value}`;
  }
  return {
    vms,
    root: await qubes.volumeSha256(template, 'root'),
    private: await qubes.volumeSha256(template, 'private'),
    features: Object.fromEntries(await qubes.features(template)),
    properties,
  };
}

/** No disposable, no temporary import volume, and the operation lock free. */
export async function expectNoLeftovers(scenario: Scenario): Promise<void> {
  expect(await disposablesAfterCleanup(Qubes.of(scenario))).toEqual([]);
  expect(await importLeftovers(scenario)).toEqual([]);
  expect(lockIsFree(scenario)).toBe(true);
}

/** Where the scriptlets of templates forged with `canaryPath: scriptletCanary(dir)` would write. */
export function scriptletCanary(dir: string): string {
  return path.join(dir, 'scriptlet-canary');
}

/** What every successful run leaves: no leftovers (expectNoLeftovers), no scriptlet ever run. */
export async function expectClean(world: AttackWorld): Promise<void> {
  await expectNoLeftovers(world.scenario);
  expect(existsSync(scriptletCanary(world.dir))).toBe(false);
}

/**
 * What every refusal must leave: the same VMs; the template's root and private volumes byte for
 * byte, its features and the properties an install sets; and no leftovers (expectNoLeftovers).
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
  await expectNoLeftovers(scenario);
}

/** One attack's world: its own directory and scenario, and the state the attack must not change. */
export interface AttackWorld {
  readonly dir: string;
  readonly scenario: Scenario;
  readonly before: Snapshot;
}

export interface AttackSetup {
  /** Templates the repository serves (or made from the world's directory, e.g. for a canary). */
  readonly templates: readonly ScenarioTemplate[] | ((dir: string) => readonly ScenarioTemplate[]);
  /** Installed before the attack, with a root volume no package holds (see plantTemplate). */
  readonly planted?: ScenarioTemplate;
  /** The disposables' tmpl.Worker for the attack (e.g. a lyingWorker); default the real one. */
  readonly worker?: (scenario: Scenario) => ServiceEntry;
  /** The repository's signing key (default: a new one). */
  readonly key?: SigningKey;
  /** The .repo file's repo_gpgcheck (see createScenario). */
  readonly repoGpgcheck?: boolean;
  /** The template whose state is watched (default: the planted one), e.g. one `prepare` installs. */
  readonly victim?: string;
  /** More setup before the snapshot is taken. */
  readonly prepare?: (scenario: Scenario, dir: string) => Promise<void>;
  /** defineAttack's timeout for building the world (default ATTACK_SETUP_TIMEOUT_MS). */
  readonly setupTimeoutMs?: number;
}

/** How long an attack's world may take to build: forging packages and the simulator's start. */
export const ATTACK_SETUP_TIMEOUT_MS = 180_000;

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
    templates: [...(typeof setup.templates === 'function' ? setup.templates(dir) : setup.templates)],
    ...(setup.key ? { key: setup.key } : {}),
    ...(setup.repoGpgcheck !== undefined ? { repoGpgcheck: setup.repoGpgcheck } : {}),
  });
  if (setup.planted) await plantTemplate(scenario, setup.planted);
  if (setup.worker) await setWorkerService(scenario, setup.worker(scenario));
  await setup.prepare?.(scenario, dir);
  const before = await snapshot(scenario, setup.victim ?? setup.planted?.name);
  return { dir, scenario, before };
}

export async function closeAttackWorld(world: AttackWorld | undefined): Promise<void> {
  await world?.scenario.close();
  if (world) await rm(world.dir, { recursive: true, force: true });
}

/**
 * A world (attackWorld) for the tests of one file: built before them (within the setup's
 * timeout), closed after them. `get()` gives it to a test; end-to-end tests use it too.
 */
export function useWorld(prefix: string, setup: AttackSetup): { get(): AttackWorld } {
  let world: AttackWorld | undefined;
  beforeAll(async () => {
    world = await attackWorld(prefix, setup);
  }, setup.setupTimeoutMs ?? ATTACK_SETUP_TIMEOUT_MS);
  afterAll(() => closeAttackWorld(world));
  return {
    get(): AttackWorld {
      if (!world) throw new Error('the attack world was not built');
      return world;
    },
  };
}

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
  /** The test's timeout (default RUN_TIMEOUT_MS: one run). */
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
 * against the same world; the world is returned for tests of the file that are no attack.
 */
export function defineAttack(
  prefix: string,
  setup: AttackSetup,
  cases: readonly AttackCase[],
): { get(): AttackWorld } {
  const world = useWorld(prefix, setup);
  let workerChanged = false;
  for (const attack of cases) {
    it(
      attack.name,
      async () => {
        const { scenario, before } = world.get();
        if (attack.worker !== undefined) {
          await setWorkerService(scenario, attack.worker?.(scenario) ?? null);
          workerChanged = true;
        } else if (workerChanged) {
          await setWorkerService(scenario, setup.worker?.(scenario) ?? null);
          workerChanged = false;
        }
        await attack.arrange?.(world.get());
        const started = Date.now();
        const run = await runTmpl(scenario, [...attack.argv, '--json'], { env: attack.env ?? {} });
        const elapsedMs = Date.now() - started;
        expectFailure(run, { code: attack.code, exit: attack.exitCode ?? 1 });
        await expectUntouched(scenario, before, setup.victim ?? setup.planted?.name);
        await attack.check?.(run, world.get(), elapsedMs);
      },
      attack.timeoutMs ?? RUN_TIMEOUT_MS,
    );
  }
  return world;
}
