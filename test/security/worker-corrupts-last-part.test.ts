/**
 * Attack: a subverted worker flips one byte in the last root.img part, the one piece of data
 * that would complete the import. The orchestrator hashes every part as it streams and holds
 * the import's last chunk back until the part's digest matched FILEDIGESTS of the signed header:
 * the reinstall fails and Qubes discards the import, so the installed root volume stays as it was.
 * A package whose payload carries the corrupt part (a hostile mirror) is refused as well, by the
 * worker itself before anything is sent.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Scenario } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectFailure,
  expectUntouched,
  lyingWorker,
  runTmpl,
  setWorkerService,
  smallTemplate,
  type Snapshot,
  attackWorld,
  closeAttackWorld,
  type AttackWorld,
} from '../helpers/e2e-world.ts';

const NAME = 'fedora-victim';
let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-corrupt-', {
    templates: [
      smallTemplate(NAME, '4.2.0', '1', 'v1'),
      smallTemplate(NAME, '4.2.0', '2', 'v2', { mutations: { corruptLastPart: {} } }),
    ],
    // installed at 4.2.0-1 with a root volume no package holds
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'a worker corrupting the last part: the reinstall fails on the digest, the old root volume stays',
  async () => {
    await setWorkerService(scenario, lyingWorker('corrupt-last-part'));
    const run = await runTmpl(scenario, ['reinstall', '--yes', '--skip-start', '--json', NAME], {
      TMPL_LOG_LEVEL: 'info',
    });
    expectFailure(run, 'digest.file-mismatch');
    // the attack met a running import, which Qubes then discarded
    expect(run.stderr).toContain('importing root volume');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);

it(
  'a package whose payload carries a corrupt last part: the upgrade fails, the old root volume stays',
  async () => {
    await setWorkerService(scenario, null);
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(run, 'worker.reported-error');
    expect(run.stderr).toContain('digest');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
