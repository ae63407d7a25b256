/**
 * Attack: after the first FILE_BEGIN the worker sends FILE_DATA without end, to fill dom0's
 * memory or disk. The orchestrator counts each file's bytes against the signed header's size
 * and stops at the first byte too many; nothing is buffered beyond the bounded channel. The
 * upgrade fails, the root volume stays.
 */
import { afterAll, beforeAll, it } from 'vitest';
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
  world = await attackWorld('tmpl-sec-flood-', {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'v1'), smallTemplate(NAME, '4.2.0', '2', 'v2')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('flood'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'endless FILE_DATA: refused at the first byte past the signed size, the root volume stays',
  async () => {
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(run, 'worker.protocol');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
