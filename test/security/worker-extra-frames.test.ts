/**
 * Attack: a subverted worker sends every frame honestly, then more frames after END. The image
 * is complete at that point; only the held-back last chunk keeps Qubes from committing it. The
 * orchestrator commits only when the worker's stream ended cleanly after END: the reinstall
 * fails, Qubes discards the import, the root volume stays.
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

const NAME = 'fedora-victim';
let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-extra-', {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'v1')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('extra-frames'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'frames after END: the reinstall fails before the import commits, the root volume stays',
  async () => {
    const run = await runTmpl(scenario, ['reinstall', '--yes', '--skip-start', '--json', NAME], {
      TMPL_LOG_LEVEL: 'info',
    });
    expectFailure(run, 'frame.after-end');
    // every image byte but the held-back last chunk had reached the import
    expect(run.stderr).toContain('importing root volume');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
