/**
 * Attack: a subverted worker answers a request for one template with the validly signed head of
 * another package from the same repository. The signature verifies, but the orchestrator compares
 * the verified NAME and EVR with what it asked for before anything is created: nothing changes.
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
  world = await attackWorld('tmpl-sec-other-head-', {
    templates: [
      smallTemplate('fedora-asked', '4.2.0', '1', 'a'),
      smallTemplate('evil-other', '9.9.9', '1', 'b'),
    ],
    worker: (s) => {
      const other = s.packages.find((p) => p.packageName === 'qubes-template-evil-other')!;
      return lyingWorker('other-head', { TMPL_LIE_PACKAGE: other.path }, [s.repoDir]);
    },
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'another signed package head: refused as unexpected, no VM created',
  async () => {
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-asked']);
    expectFailure(run, 'package.unexpected');
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);
