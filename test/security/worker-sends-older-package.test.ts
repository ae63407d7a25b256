/**
 * Attack: rollback. A subverted worker (or the mirror behind it) answers an upgrade with an
 * older package that is validly signed by the same key, to bring back a version with known
 * holes. The orchestrator asked for one exact EVR, higher than the installed one, and checks the
 * verified header's EVR before anything changes: the upgrade fails, the root volume stays.
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
  plantTemplate,
  runTmpl,
  setWorkerService,
  smallTemplate,
  snapshot,
  type Snapshot,
} from '../helpers/e2e-world.ts';

const NAME = 'fedora-victim';
let dir: string;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-older-'));
  scenario = await createScenario({
    dir,
    templates: [
      smallTemplate(NAME, '4.2.0', '1', 'old'),
      smallTemplate(NAME, '4.2.0', '2', 'current'),
      smallTemplate(NAME, '4.2.0', '3', 'new'),
    ],
  });
  await plantTemplate(scenario, smallTemplate(NAME, '4.2.0', '2', 'planted'));
  const old = scenario.packages.find((p) => p.fileName.includes('4.2.0-1'))!;
  await setWorkerService(
    scenario,
    lyingWorker('other-head', { TMPL_LIE_PACKAGE: old.path }, [scenario.repoDir]),
  );
  before = await snapshot(scenario, NAME);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it(
  'an older validly signed package instead of the upgrade: refused, the root volume stays',
  async () => {
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(run, 'package.unexpected');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
