/**
 * Attack: repository metadata without a valid signature while the repository says
 * repo_gpgcheck=1: a mirror (or a network attacker) serving its own repomd.xml, unsigned or
 * signed by another key, to list packages of its choosing or hide updates (freeze). The worker
 * refuses the metadata, so there is nothing to install and nothing changes.
 */
import { rm, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateSigningKey, signDetachedArmored } from '../../sim/forge/index.ts';
import { createScenario, type Scenario } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectUntouched,
  jsonOf,
  runTmpl,
  smallTemplate,
  snapshot,
  type Snapshot,
} from '../helpers/e2e-world.ts';

let dir: string;
let scenario: Scenario;
let before: Snapshot;
let signature: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-repomd-'));
  scenario = await createScenario({
    dir,
    templates: [smallTemplate('fedora-meta', '4.2.0', '1', 'm')],
    repoGpgcheck: true,
  });
  signature = path.join(scenario.repoDir, 'repodata', 'repomd.xml.asc');
  before = await snapshot(scenario);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function expectRefused(): Promise<void> {
  const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-meta']);
  expect(run.exitCode, run.stderr).not.toBe(0);
  const json = jsonOf(run);
  expect(json.ok).toBe(false);
  expect(json.error?.code).toBe('worker.reported-error');
  expect(json.error?.message).toMatch(/repomd/i);
  await expectUntouched(scenario, before);
}

it(
  'repomd.xml without its signature: refused, nothing installed',
  async () => {
    await rm(signature);
    await expectRefused();
  },
  CLI_TIMEOUT_MS,
);

it(
  'repomd.xml signed by another key: refused, nothing installed',
  async () => {
    const other = await generateSigningKey('Mirror');
    const repomd = await readFile(path.join(scenario.repoDir, 'repodata', 'repomd.xml'));
    await writeFile(signature, await signDetachedArmored(other, repomd));
    await expectRefused();
  },
  CLI_TIMEOUT_MS,
);
