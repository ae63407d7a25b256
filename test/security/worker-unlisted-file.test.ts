/**
 * Attack: a file the signed header does not list (a script dropped next to the template's
 * files). From a subverted worker it is refused at FILE_BEGIN, before one byte of it is
 * accepted; the upgrade fails and the root volume stays. In a hostile package's payload the
 * honest worker refuses the whole package: a payload must hold exactly the header's files.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Scenario } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectFailure,
  expectUntouched,
  jsonOf,
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
  world = await attackWorld('tmpl-sec-unlisted-', {
    templates: [
      smallTemplate(NAME, '4.2.0', '1', 'v1'),
      smallTemplate(NAME, '4.2.0', '2', 'v2'),
      smallTemplate(NAME, '4.2.0', '3', 'v3', {
        mutations: {
          unlistedFile: {
            path: `/var/lib/qubes/vm-templates/${NAME}/evil.sh`,
            content: '#!/bin/sh\nreboot\n',
          },
        },
      }),
    ],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'a subverted worker sending an unlisted file: refused, the root volume stays',
  async () => {
    await setWorkerService(scenario, lyingWorker('unlisted-file'));
    // 4.2.0-2 is a clean package: the lie is the worker's alone
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', `${NAME}-4.2.0-2`]);
    expectFailure(run, 'worker.protocol');
    expect(run.stdout).toContain('evil.sh');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);

it(
  'an unlisted file in the payload: the honest worker refuses the package, the root volume stays',
  async () => {
    await setWorkerService(scenario, null);
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(run, 'worker.reported-error');
    expect(jsonOf(run).error?.message).toContain('payload.unlisted-file');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
