/**
 * Interruptions: tmpl killed with SIGKILL (no chance to clean up in-process).
 * - A second tmpl while a download holds the lock exits 1 with lock.held.
 * - A download killed half-way resumes on the next run: the repository server sees a Range
 *   request and sends fewer bytes than the package, and the result is the package, verified.
 * - An install killed while listing, while fetching, and while importing leaves no template VM,
 *   no temporary import volume, no disposable and no lock behind, and the next run succeeds.
 * The repository server's `slow` fault gives the time to kill at each stage.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ScenarioTemplate } from '../../../sim/scenario.ts';
import {
  expectFailure,
  expectSuccess,
  jsonOf,
  MiB,
  runTmpl,
  RUN_TIMEOUT_MS,
  startTmpl,
  disposables as simDisposables,
  importLeftovers as simImportLeftovers,
  lockIsFree as scenarioLockIsFree,
  useScenario,
} from '../../helpers/kit/index.ts';

const NAME = 'fedora-interrupt';
/** Incompressible data, so the package is about this size and a slow server takes a while. */
const DATA = 3 * MiB;
const SLOW = { kind: 'slow', bytesPerSecond: 256 * 1024 } as const;
const POLL_MS = 100;
/**
 * Time for the guard to undo what a killed tmpl left and release the lock: it loads the
 * TypeScript Admin API client first, which takes a while on a loaded machine.
 */
const SETTLE_MS = 60_000;

const TEMPLATE: ScenarioTemplate = {
  name: NAME,
  version: '4.3.0',
  release: '1',
  image: { size: 8 * MiB, extents: [{ offset: 0, length: DATA, seed: 'interrupt' }] },
  compressor: 'zstd',
  partSize: MiB,
};

let rpmPath: string;
let rpmSize: number;
let rpmSha: string;

const world = useScenario({ templates: [TEMPLATE] }, async (scenario) => {
  const forged = scenario.packages[0]!;
  rpmPath = `/${path.basename(forged.path)}`;
  rpmSize = forged.size;
  rpmSha = createHash('sha256')
    .update(await readFile(forged.path))
    .digest('hex');
});
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

const disposables = (): Promise<string[]> => simDisposables(world.qubes);
const importLeftovers = (): Promise<string[]> => simImportLeftovers(world.scenario);
const lockIsFree = (): boolean => scenarioLockIsFree(world.scenario);

async function fileSize(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

describe('interrupted download', () => {
  it(
    'killed half-way, the next run resumes with a Range request and ends with the verified package',
    async () => {
      const dir = path.join(world.scenario.dir, 'downloads');
      const part = path.join(dir, `qubes-template-${NAME}-0:4.3.0-1.rpm.part`);
      world.scenario.server.setFaults([{ path: rpmPath, fault: SLOW }]);
      const first = startTmpl(world.scenario, ['download', '--json', '--downloaddir', dir, NAME]);
      await waitFor('a partial download', async () => (await fileSize(part)) > MiB);
      // a second tmpl while the first holds the lock
      const other = await runTmpl(world.scenario, ['remove', '--json', '--yes', 'debian-12-xfce']);
      expectFailure(other, { code: 'lock.held' });
      expect(other.stderr).toContain('Perhaps another instance of tmpl or qvm-template is running?');
      first.kill('SIGKILL');
      await first;
      const kept = await fileSize(part);
      expect(kept).toBeGreaterThan(MiB);
      expect(kept).toBeLessThan(rpmSize);
      world.scenario.server.setFaults([]);
      await waitFor('the lock to be released', () => Promise.resolve(lockIsFree()), SETTLE_MS);

      const logged = world.scenario.server.requests.length;
      const second = await runTmpl(world.scenario, ['download', '--json', '--downloaddir', dir, NAME]);
      expectSuccess(second);
      const result = jsonOf(second).packages as { path: string; resumedFrom: number }[];
      expect(result[0]!.resumedFrom).toBeGreaterThan(0);
      const fetches = world.scenario.server.requests.slice(logged).filter((r) => r.path === rpmPath);
      expect(fetches.some((r) => r.range !== null && /^bytes=[1-9]\d*-/.test(r.range))).toBe(true);
      const sent = fetches.reduce((sum, r) => sum + r.bytesSent, 0);
      expect(sent).toBeLessThan(rpmSize);
      const final = path.join(dir, `qubes-template-${NAME}-0:4.3.0-1.rpm`);
      expect(
        createHash('sha256')
          .update(await readFile(final))
          .digest('hex'),
      ).toBe(rpmSha);
      expect(await fileSize(part)).toBe(0);
    },
    RUN_TIMEOUT_MS * 2,
  );
});

describe('interrupted install', () => {
  const stages: [string, () => Promise<boolean>][] = [
    // Running, not merely created: tmpl learns a disposable's name from qubesd's reply to
    // CreateDisposable and registers it for cleanup at once; only a kill in the instant between
    // that reply and its reading could lose it (as it would for qvm-run --dispvm).
    [
      'while listing the repository (its disposable running)',
      // The install's one disposable (it lists, then fetches) running: registered right after
      // its creation; a disposable still being created is the gap above.
      async () => {
        const disposable = (await world.qubes.vms()).filter((v) => v.klass === 'DispVM');
        return disposable.length === 1 && disposable.every((v) => v.state === 'Running');
      },
    ],
    [
      'while fetching the package (its request under way)',
      () =>
        Promise.resolve(
          world.scenario.server.requests.some((r) => r.path === rpmPath && r.bytesSent > 256 * 1024),
        ),
    ],
    [
      'while importing the root volume (template VM created)',
      async () => (await world.qubes.vmNames()).includes(NAME) && (await importLeftovers()).length > 0,
    ],
  ];

  for (const [stage, reached] of stages) {
    it(
      `killed ${stage}: no VM, no import volume, no disposable, no lock left`,
      async () => {
        const vmsBefore = await world.qubes.vmNames();
        world.scenario.server.requests.length = 0;
        world.scenario.server.setFaults([{ path: rpmPath, fault: SLOW }]);
        const run = startTmpl(world.scenario, ['install', '--json', '--skip-start', NAME]);
        try {
          await waitFor(stage, reached);
        } finally {
          run.kill('SIGKILL');
          await run;
          world.scenario.server.setFaults([]);
        }
        await waitFor(
          'the aftermath to settle',
          async () =>
            lockIsFree() &&
            (await disposables()).length === 0 &&
            !(await world.qubes.vmNames()).includes(NAME) &&
            (await importLeftovers()).length === 0,
          SETTLE_MS,
        ).catch(() => undefined);
        expect(await world.qubes.vmNames()).toEqual(vmsBefore);
        expect(await disposables()).toEqual([]);
        expect(await importLeftovers()).toEqual([]);
        expect(lockIsFree()).toBe(true);
      },
      RUN_TIMEOUT_MS,
    );
  }

  it(
    'after the interruptions, the next install succeeds',
    async () => {
      await waitFor('the lock to be released', () => Promise.resolve(lockIsFree()), SETTLE_MS);
      const run = await runTmpl(world.scenario, ['install', '--json', '--skip-start', NAME]);
      expectSuccess(run);
      expect(jsonOf(run)).toMatchObject({ templates: [{ template: NAME, status: 'installed' }] });
      expect(await disposables()).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );
});
