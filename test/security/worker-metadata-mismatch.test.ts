/**
 * Attack: a subverted worker sends the genuine signed head but METADATA describing another
 * release (what it would want the orchestrator to record). Every METADATA field must agree with
 * the verified header: the install fails and the template VM created for it is removed again.
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

let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-metadata-', {
    templates: [smallTemplate('fedora-meta', '4.2.0', '1', 'm')],
    worker: () => lyingWorker('metadata-mismatch'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'METADATA naming another release than the signed header: refused, no VM left',
  async () => {
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-meta']);
    expectFailure(run, 'worker.protocol');
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);
