/**
 * Attack: after the first FILE_BEGIN the worker sends FILE_DATA without end, to fill dom0's
 * memory or disk. The orchestrator counts each file's bytes against the signed header's size
 * and stops at the first byte too many; nothing is buffered beyond the bounded channel. The
 * upgrade fails, the root volume stays.
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
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-flood-'));
  scenario = await createScenario({
    dir,
    templates: [smallTemplate(NAME, '4.2.0', '1', 'v1'), smallTemplate(NAME, '4.2.0', '2', 'v2')],
  });
  await plantTemplate(scenario, smallTemplate(NAME, '4.2.0', '1', 'planted'));
  await setWorkerService(scenario, lyingWorker('flood'));
  before = await snapshot(scenario, NAME);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it(
  'endless FILE_DATA: refused at the first byte past the signed size, the root volume stays',
  async () => {
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(run, 'worker.protocol');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
