/**
 * Attack: the worker stops sending in the middle of the image and stays alive, holding the
 * operation lock and a half-made template forever. The orchestrator gives up after
 * TMPL_WORKER_IDLE_TIMEOUT_MS without a byte, kills the disposable and removes the template VM
 * it had created for this install.
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
  runTmpl,
  setWorkerService,
  smallTemplate,
  snapshot,
  type Snapshot,
} from '../helpers/e2e-world.ts';

const IDLE_MS = 4000;
let dir: string;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-hang-'));
  scenario = await createScenario({ dir, templates: [smallTemplate('fedora-hang', '4.2.0', '1', 'h')] });
  await setWorkerService(scenario, lyingWorker('hang'));
  before = await snapshot(scenario);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it(
  'a worker that goes silent: timed out, disposable killed, the new template VM removed',
  async () => {
    const started = Date.now();
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-hang'], {
      TMPL_WORKER_IDLE_TIMEOUT_MS: String(IDLE_MS),
    });
    expectFailure(run, 'worker.timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS);
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);
