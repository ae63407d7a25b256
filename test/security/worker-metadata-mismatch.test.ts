/**
 * Attack: a subverted worker sends the genuine signed head but METADATA describing another
 * release (what it would want the orchestrator to record). Every METADATA field must agree with
 * the verified header: the install fails and the template VM created for it is removed again.
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
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-metadata-'));
  scenario = await createScenario({ dir, templates: [smallTemplate('fedora-meta', '4.2.0', '1', 'm')] });
  await setWorkerService(scenario, lyingWorker('metadata-mismatch'));
  before = await snapshot(scenario);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it(
  'METADATA naming another release than the signed header: refused, no VM left',
  async () => {
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-meta']);
    expectFailure(run, 'worker.protocol');
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);
