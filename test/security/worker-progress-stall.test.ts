/**
 * Attack: once the first root.img part began, the worker sends a PROGRESS frame every half
 * second and nothing else. Before, any frame reset the idle timer, so this held the orchestrator
 * (and its lock) for ever. PROGRESS proves nothing: only frames that move the verified transfer
 * forward count, and the file data must keep a minimum pace. Both rules are set small through
 * their environment variables so that each run ends in seconds; each removes the template VM it
 * had created and kills the disposable.
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

const NAME = 'fedora-stall';
const SHORT_MS = 3000;
const LONG_MS = 120_000;
let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-stall-', {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'st')],
    worker: () => lyingWorker('progress-stall'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'PROGRESS every 0.5 s is no liveness: idle timeout, no VM left',
  async () => {
    const started = Date.now();
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', NAME], {
      TMPL_WORKER_IDLE_TIMEOUT_MS: String(SHORT_MS),
      TMPL_WORKER_PROGRESS_WINDOW_MS: String(LONG_MS),
    });
    expectFailure(run, 'worker.timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(SHORT_MS);
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);

it(
  'no file data for a window of the minimum-progress rule: too slow, no VM left',
  async () => {
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', NAME], {
      TMPL_WORKER_IDLE_TIMEOUT_MS: String(LONG_MS),
      TMPL_WORKER_PROGRESS_WINDOW_MS: String(SHORT_MS),
    });
    expectFailure(run, 'worker.too-slow');
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);
