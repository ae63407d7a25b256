/**
 * Attack: once the first root.img part began, the worker sends zero-length FILE_DATA frames
 * without end. They move nothing, so they never reach a size limit, and each costs the trusted
 * side a frame's work with the operation lock held. An empty FILE_DATA frame is a protocol
 * error: the upgrade fails at the first one, the root volume stays.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Scenario } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectFailure,
  expectUntouched,
  lyingWorker,
  runTmpl,
  smallTemplate,
  type Snapshot,
  attackWorld,
  closeAttackWorld,
  type AttackWorld,
} from '../helpers/e2e-world.ts';

const NAME = 'fedora-empty-data';
/** Far longer than the refusal takes; the run must not wait for the idle timeout. */
const IDLE_MS = 60_000;
let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-empty-data-', {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'e1'), smallTemplate(NAME, '4.2.0', '2', 'e2')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('empty-data-flood'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'endless empty FILE_DATA: refused at the first one, the root volume stays',
  async () => {
    const started = Date.now();
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME], {
      TMPL_WORKER_IDLE_TIMEOUT_MS: String(IDLE_MS),
    });
    expectFailure(run, 'worker.protocol');
    expect(Date.now() - started).toBeLessThan(IDLE_MS);
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
