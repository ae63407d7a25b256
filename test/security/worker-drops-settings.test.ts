/**
 * Attack: the worker leaves template.conf and the three appmenu lists out of METADATA and out of
 * its frames (END's totals adjusted), so that the template would come without its signed
 * settings (no gui/qrexec/net features, virt_mode left at its default). Every file the signed
 * header lists must be announced, streamed and verified: the upgrade is refused when METADATA
 * arrives, before anything is prepared, and the root volume stays.
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

const NAME = 'fedora-settings';
let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-settings-', {
    templates: [smallTemplate(NAME, '4.2.0', '1', 's1'), smallTemplate(NAME, '4.2.0', '2', 's2')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('drop-settings'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'template.conf and the appmenu lists left out: refused, the root volume stays',
  async () => {
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(run, 'worker.protocol');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
