/**
 * Attack (or a crash): the worker's stream ends in the middle of the first root.img part. The
 * import has received a prefix of the image; it must not be committed: the reinstall fails,
 * Qubes discards the import, the root volume stays.
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
  world = await attackWorld('tmpl-sec-truncate-', {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'v1')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('truncate'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'a stream cut in the middle of a part: the reinstall fails, the root volume stays',
  async () => {
    const run = await runTmpl(scenario, ['reinstall', '--yes', '--skip-start', '--json', NAME], {
      TMPL_LOG_LEVEL: 'info',
    });
    expectFailure(run, 'frame.truncated');
    expect(run.stderr).toContain('importing root volume');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
