/**
 * Attack: the worker stops sending in the middle of the image and stays alive, holding the
 * operation lock and a half-made template forever. The orchestrator gives up after
 * TMPL_WORKER_IDLE_TIMEOUT_MS without a byte, kills the disposable and removes the template VM
 * it had created for this install.
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

const IDLE_MS = 4000;
let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-hang-', {
    templates: [smallTemplate('fedora-hang', '4.2.0', '1', 'h')],
    worker: () => lyingWorker('hang'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'a worker that goes silent: timed out, disposable killed, the new template VM removed',
  async () => {
    const started = Date.now();
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-hang'], {
      TMPL_WORKER_IDLE_TIMEOUT_MS: String(IDLE_MS),
    });
    expectFailure(run, 'worker.timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS);
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);
