/**
 * Attack: a subverted worker sends every frame honestly, then more frames after END. The image
 * is complete at that point; only the held-back last chunk keeps Qubes from committing it. The
 * orchestrator commits only when the worker's stream ended cleanly after END: the reinstall
 * fails, Qubes discards the import, the root volume stays.
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
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-extra-'));
  scenario = await createScenario({ dir, templates: [smallTemplate(NAME, '4.2.0', '1', 'v1')] });
  await plantTemplate(scenario, smallTemplate(NAME, '4.2.0', '1', 'planted'));
  await setWorkerService(scenario, lyingWorker('extra-frames'));
  before = await snapshot(scenario, NAME);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

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
