/**
 * Attack (or a crash): the worker's stream ends in the middle of the first root.img part. The
 * import has received a prefix of the image; it must not be committed: the reinstall fails,
 * Qubes discards the import, the root volume stays.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
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
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-truncate-'));
  scenario = await createScenario({ dir, templates: [smallTemplate(NAME, '4.2.0', '1', 'v1')] });
  await plantTemplate(scenario, smallTemplate(NAME, '4.2.0', '1', 'planted'));
  await setWorkerService(scenario, lyingWorker('truncate'));
  before = await snapshot(scenario, NAME);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

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
