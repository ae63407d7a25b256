/**
 * Interruptions by signal, as a terminal (Ctrl-C: SIGINT to the foreground process group),
 * `timeout` (SIGTERM to the group) or a closed terminal (SIGHUP) deliver them: tmpl runs as a
 * process-group leader and each signal goes to the whole group, qrexec-client and every other
 * child included, at each stage of a fresh install:
 * - listing: the repository's metadata stalls, the query's disposable is running;
 * - fetching: the package stalls after its first bytes, the fetch disposable is running;
 * - importing: the template VM was created and its root volume import is under way;
 * - post-install: the template runs a slow qubes.PostInstall.
 * Each run exits with 128 + the signal's number and `--json` code `interrupted`, within
 * EXIT_BOUND_MS of the signal, and by then tmpl itself has undone everything: no disposable, no
 * template VM, no temporary import volume, the lock free.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { FaultRule } from '../../../sim/repo-server/index.ts';
import {
  expectSuccess,
  jsonOf,
  MiB,
  runTmpl,
  runOnTerminal,
  RUN_TIMEOUT_MS,
  postInstallServices,
  setServices,
  startTmplGroup,
  type GroupRun,
  type TmplRun,
  disposables as simDisposables,
  importLeftovers as simImportLeftovers,
  lockIsFree as scenarioLockIsFree,
  useScenario,
} from '../../helpers/kit/index.ts';

const NAME = 'fedora-signals';
/** Installed at 4.3.0-1 on a pool that keeps revisions, then upgraded to 4.3.0-2 and interrupted. */
const UPGRADED = 'fedora-upgraded';
/** A btrfs-like pool of the simulator (sim/admin/seed.ts): an import keeps the old volume. */
const REFLINK_POOL = 'reflink';
const POLL_MS = 50;
/** From the signal to tmpl's exit, its own cleanup included, on a loaded 2-core machine. */
const EXIT_BOUND_MS = 20_000;
/** After the first Ctrl-C, another one this often until tmpl has exited. */
const REPEAT_EVERY_MS = 20;
/**
 * Time for the guard to undo what a killed tmpl left and release the lock: it loads the
 * TypeScript Admin API client first, which takes a while on a loaded machine.
 */
const GUARD_SETTLE_MS = 60_000;
/** Longer than any run here waits before its signal: qubes.PostInstall is still running then. */
const POST_INSTALL_DELAY_MS = 120_000;
const SIGNALS = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const;

let rpmPath: string;

const world = useScenario(
  {
    templates: [
      {
        name: NAME,
        version: '4.3.0',
        release: '1',
        // incompressible, so a slow server takes seconds to send it
        image: { size: 8 * MiB, extents: [{ offset: 0, length: 3 * MiB, seed: 'signals' }] },
        compressor: 'zstd',
        partSize: MiB,
      },
      ...(['1', '2'] as const).map((release) => ({
        name: UPGRADED,
        version: '4.3.0',
        release,
        image: { size: 4 * MiB, extents: [{ offset: 0, length: MiB, seed: `upgraded-${release}` }] },
      })),
    ],
  },
  async (scenario) => {
    rpmPath = `/${path.basename(scenario.packages[0]!.path)}`;
    // The template the install creates gets a slow first boot.
    await setServices(
      scenario,
      postInstallServices([NAME, UPGRADED], {
        TMPL_SIM_POST_INSTALL_DELAY_MS: String(POST_INSTALL_DELAY_MS),
      }),
    );
  },
);

/** Waits until `check` holds while tmpl runs; tmpl ending first is a failure of the test. */
async function waitFor(what: string, check: () => Promise<boolean>, run: { ended?: TmplRun }): Promise<void> {
  const deadline = Date.now() + RUN_TIMEOUT_MS / 2;
  while (!(await check())) {
    if (run.ended) {
      const { exitCode, stdout, stderr } = run.ended;
      throw new Error(`tmpl ended (exit ${exitCode}) before ${what}\nstdout: ${stdout}\nstderr: ${stderr}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

const disposables = (): Promise<string[]> => simDisposables(world.qubes);
const importLeftovers = (): Promise<string[]> => simImportLeftovers(world.scenario);
const lockIsFree = (): boolean => scenarioLockIsFree(world.scenario);

type GroupResult = NonNullable<GroupRun['ended']>;

/** tmpl in a process group of its own, as a shell starts a foreground job (see startTmplGroup). */
const startGroup = (args: readonly string[]): GroupRun => startTmplGroup(world.scenario, args);

interface Stage {
  readonly name: string;
  readonly args: readonly string[];
  readonly faults: () => readonly FaultRule[];
  readonly reached: () => Promise<boolean>;
}

const stages: readonly Stage[] = [
  {
    name: 'listing (metadata stalled, query disposable running)',
    args: ['--skip-start'],
    faults: () => [{ path: '/repodata/**', fault: { kind: 'stall', afterBytes: 0 } }],
    reached: async () =>
      world.scenario.server.requests.some((r) => r.path.startsWith('/repodata/')) &&
      (await world.qubes.vms()).some((v) => v.klass === 'DispVM' && v.state === 'Running'),
  },
  {
    name: 'fetching (package stalled, fetch disposable running)',
    args: ['--skip-start'],
    faults: () => [{ path: rpmPath, fault: { kind: 'stall', afterBytes: 64 } }],
    reached: () => Promise.resolve(world.scenario.server.requests.some((r) => r.path === rpmPath)),
  },
  {
    name: 'importing (template created, root volume import under way)',
    args: ['--skip-start'],
    faults: () => [{ path: rpmPath, fault: { kind: 'slow', bytesPerSecond: 256 * 1024 } }],
    reached: async () => (await world.qubes.vmNames()).includes(NAME) && (await importLeftovers()).length > 0,
  },
  {
    name: 'post-install (template running qubes.PostInstall)',
    args: [],
    faults: () => [],
    reached: async () => (await world.qubes.vms()).some((v) => v.name === NAME && v.state === 'Running'),
  },
];

async function expectNothingLeft(vmsBefore: readonly string[]): Promise<void> {
  expect(await world.qubes.vmNames()).toEqual(vmsBefore);
  expect(await disposables()).toEqual([]);
  expect(await importLeftovers()).toEqual([]);
  expect(lockIsFree()).toBe(true);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

const importing = stages[2]!;

describe('an install interrupted by a signal to its process group', () => {
  for (const stage of stages) {
    for (const [signal, status] of SIGNALS) {
      it(
        `${signal} while ${stage.name}: exit ${status}, interrupted, nothing left`,
        async () => {
          const vmsBefore = await world.qubes.vmNames();
          expect(vmsBefore).not.toContain(NAME);
          world.scenario.server.requests.length = 0;
          world.scenario.server.setFaults(stage.faults());
          const run = startGroup(['install', '--json', ...stage.args, NAME]);
          let result: GroupResult;
          let took: number;
          try {
            await waitFor(stage.name, stage.reached, run);
            const sent = Date.now();
            process.kill(-run.pid, signal);
            result = await Promise.race([
              run.done,
              sleep(EXIT_BOUND_MS).then(() => {
                throw new Error(`tmpl did not exit within ${EXIT_BOUND_MS} ms of ${signal}`);
              }),
            ]);
            took = Date.now() - sent;
          } finally {
            world.scenario.server.setFaults([]);
            killGroup(run.pid, 'SIGKILL');
          }
          // tmpl exited by itself, with the status a shell shows for that signal
          expect(result.killedBy, result.stderr).toBeNull();
          expect(result.exitCode, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(status);
          const json = jsonOf(result);
          expect(json.ok).toBe(false);
          expect(json.error?.code, json.error?.message).toBe('interrupted');
          expect(result.stderr).toContain('tmpl: error [interrupted]');
          expect(took).toBeLessThan(EXIT_BOUND_MS);
          // tmpl undid its work before it exited: nothing is left for its guard to do.
          await expectNothingLeft(vmsBefore);
        },
        RUN_TIMEOUT_MS,
      );
    }
  }

  it(
    'SIGINT again and again during the cleanup and the exit does not abandon it',
    async () => {
      const vmsBefore = await world.qubes.vmNames();
      world.scenario.server.requests.length = 0;
      world.scenario.server.setFaults(importing.faults());
      const run = startGroup(['install', '--json', ...importing.args, NAME]);
      let result: GroupResult;
      try {
        await waitFor(importing.name, importing.reached, run);
        process.kill(-run.pid, 'SIGINT');
        // Ctrl-C pressed again and again until tmpl has exited: during its cleanup and its exit.
        const repeating = setInterval(() => killGroup(run.pid, 'SIGINT'), REPEAT_EVERY_MS);
        try {
          result = await run.done;
        } finally {
          clearInterval(repeating);
        }
      } finally {
        world.scenario.server.setFaults([]);
        killGroup(run.pid, 'SIGKILL');
      }
      // The status a shell shows: 130. tmpl exits with it itself, unless one of the repeats lands
      // in the last instant of Node's exit, after it restored the default signal actions: then
      // the kernel ends it by SIGINT, after everything below was done and reported.
      expect(result.exitCode, result.stderr).toBe(130);
      expect(jsonOf(result).error?.code).toBe('interrupted');
      expect(result.stderr).toContain('tmpl: SIGINT: already stopping');
      await expectNothingLeft(vmsBefore);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'SIGTERM to the group, then SIGKILL before tmpl is done: the guard, in its own session, finishes',
    async () => {
      const vmsBefore = await world.qubes.vmNames();
      world.scenario.server.requests.length = 0;
      world.scenario.server.setFaults(importing.faults());
      const run = startGroup(['install', '--json', ...importing.args, NAME]);
      try {
        await waitFor(importing.name, importing.reached, run);
        process.kill(-run.pid, 'SIGTERM');
        process.kill(-run.pid, 'SIGKILL');
        await run.done;
      } finally {
        world.scenario.server.setFaults([]);
      }
      const deadline = Date.now() + GUARD_SETTLE_MS;
      while (Date.now() < deadline) {
        if (
          lockIsFree() &&
          (await disposables()).length === 0 &&
          !(await world.qubes.vmNames()).includes(NAME) &&
          (await importLeftovers()).length === 0
        )
          break;
        await sleep(POLL_MS);
      }
      await expectNothingLeft(vmsBefore);
    },
    RUN_TIMEOUT_MS,
  );
});

// Last: it leaves the template installed.
describe('an upgrade interrupted after the new root volume was committed', () => {
  /** The committed image of a reflink volume (its `<vid>.img`). */
  async function rootSha256(): Promise<string> {
    const vid = (await world.qubes.volumeInfo(UPGRADED, 'root')).vid;
    const file = path.join(world.scenario.sim.env.TMPL_SIM_DIR!, 'pools', REFLINK_POOL, `${vid}.img`);
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  }

  it(
    'SIGINT while the upgraded template runs qubes.PostInstall: exit 130, the old root volume and features are back',
    async () => {
      const install = await runTmpl(world.scenario, [
        'install',
        '--skip-start',
        '--pool',
        REFLINK_POOL,
        '--json',
        `${UPGRADED}-4.3.0-1`,
      ]);
      expectSuccess(install);
      const rootBefore = await rootSha256();
      const vmsBefore = await world.qubes.vmNames();
      expect(await world.qubes.feature(UPGRADED, 'template-release')).toBe('1');

      const run = startGroup(['upgrade', '--yes', '--json', UPGRADED]);
      let result: GroupResult;
      try {
        await waitFor(
          'the upgraded template running qubes.PostInstall',
          async () => (await world.qubes.vms()).some((v) => v.name === UPGRADED && v.state === 'Running'),
          run,
        );
        process.kill(-run.pid, 'SIGINT');
        result = await run.done;
      } finally {
        killGroup(run.pid, 'SIGKILL');
      }
      expect(result.exitCode, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(130);
      expect(jsonOf(result).error?.code).toBe('interrupted');
      // the transaction undid the upgrade: the old image, the old version's features, halted
      expect(await rootSha256()).toBe(rootBefore);
      expect(await world.qubes.feature(UPGRADED, 'template-release')).toBe('1');
      expect((await world.qubes.vms()).find((v) => v.name === UPGRADED)?.state).toBe('Halted');
      await expectNothingLeft(vmsBefore);
    },
    RUN_TIMEOUT_MS,
  );
});

describe('Ctrl-C at a confirmation prompt on a terminal', () => {
  it(
    'reinstall answered with Ctrl-C: exit 130, interrupted, the prepared disposable killed, the lock free',
    async () => {
      expectSuccess(await runTmpl(world.scenario, ['install', '--json', '--skip-start', NAME]));
      const vmsBefore = await world.qubes.vmNames();
      expect(vmsBefore).toContain(NAME);
      // readline reads the terminal raw: Ctrl-C arrives as the byte 0x03, not as a signal.
      const run = await runOnTerminal(world.scenario, ['reinstall', '--json', NAME], ['\x03']);
      expect(run.prompts).toBe(1);
      expect(run.exitCode, run.stdout).toBe(130);
      expect(run.stdout).toContain('"code":"interrupted"');
      expect(run.stdout).toContain('tmpl: error [interrupted]');
      await expectNothingLeft(vmsBefore);
    },
    RUN_TIMEOUT_MS,
  );
});
