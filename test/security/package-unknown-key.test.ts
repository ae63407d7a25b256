/**
 * Attack: a template package signed by a key that is not in the repository's keyring (an
 * attacker's key, or a stolen key of another repository). The repository metadata is genuine
 * and signed. The honest worker refuses the package itself; a subverted worker that forwards
 * the head anyway meets the orchestrator's own check with our keyring. Nothing is created.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, it } from 'vitest';
import {
  forgeRepository,
  forgeTemplate,
  generateSigningKey,
  type ForgedTemplate,
} from '../../sim/forge/index.ts';
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
let impostor: ForgedTemplate;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-sec-unknown-key-'));
  const trusted = smallTemplate('fedora-genuine', '4.2.0', '1', 'g');
  scenario = await createScenario({ dir, templates: [trusted] });
  const attacker = await generateSigningKey('Attacker');
  const tempDir = path.join(dir, 'forge-tmp');
  // In the repository, listed in repomd.xml signed by the trusted key: a package signed by the attacker.
  const foreign = await forgeTemplate({
    ...smallTemplate('fedora-foreign', '4.2.0', '1', 'f'),
    outDir: scenario.repoDir,
    tempDir,
    signingKey: attacker,
  });
  await forgeRepository({
    dir: scenario.repoDir,
    packages: [...scenario.packages.map((p) => p.path), foreign.path],
    signingKey: scenario.key,
  });
  // Outside it: the genuine package's name and version, signed by the attacker.
  await mkdir(path.join(dir, 'impostor'));
  impostor = await forgeTemplate({
    ...smallTemplate('fedora-genuine', '4.2.0', '1', 'evil'),
    outDir: path.join(dir, 'impostor'),
    tempDir,
    signingKey: attacker,
  });
  before = await snapshot(scenario);
}, 180_000);

afterAll(async () => {
  await scenario?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it(
  'a package signed by an unknown key: the worker refuses it, no VM created',
  async () => {
    await setWorkerService(scenario, null);
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-foreign']);
    expectFailure(run, 'worker.reported-error');
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);

it(
  'a subverted worker forwarding a head signed by an unknown key: refused with our keyring',
  async () => {
    await setWorkerService(
      scenario,
      lyingWorker('other-head', { TMPL_LIE_PACKAGE: impostor.path }, [path.dirname(impostor.path)]),
    );
    const run = await runTmpl(scenario, ['install', '--skip-start', '--json', 'fedora-genuine']);
    expectFailure(run, 'signature.untrusted-key');
    await expectUntouched(scenario, before);
  },
  CLI_TIMEOUT_MS,
);
