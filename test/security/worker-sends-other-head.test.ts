/**
 * Attack: a subverted worker answers a request for one template with the validly signed head of
 * another package from the same repository. The signature verifies, but the orchestrator compares
 * the verified NAME and EVR with what it asked for before anything is created: nothing changes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, it } from 'vitest';
import { createScenario, type Scenario } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectFailure,
  expectUntouched,
  lyingWorker,
  runTmpl,
  setWorkerService,
  smallTemplate,
  snapshot,
  type Snapshot,
} from '../helpers/e2e-world.ts';

let dir: string;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-other-head-'));
  scenario = await createScenario({
    dir,
    templates: [
      smallTemplate('fedora-asked', '4.2.0', '1', 'a'),
      smallTemplate('evil-other', '9.9.9', '1', 'b'),
    ],
  });
  const other = scenario.packages.find((p) => p.packageName === 'qubes-template-evil-other')!;
  await setWorkerService(
    scenario,
    lyingWorker('other-head', { TMPL_LIE_PACKAGE: other.path }, [scenario.repoDir]),
  );
  before = await snapshot(scenario);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it(
  'another signed package head: refused as unexpected, no VM created',
  async () => {
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-asked']);
    expectFailure(run, 'package.unexpected');
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);
