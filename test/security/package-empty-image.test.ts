/**
 * Attack: a package signed with the trusted key whose root image is 0 bytes. Qubes commits an
 * import once it has `size` bytes, so with nothing to hold back the import would commit before
 * the small files verified, and a failed upgrade left an empty root volume. The sparse-tar
 * member's realsize 0 is refused before the import starts: the upgrade fails, the old root
 * volume stays byte-identical.
 */
import { afterAll, beforeAll, it } from 'vitest';
import type { Scenario } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectFailure,
  expectUntouched,
  runTmpl,
  smallTemplate,
  type Snapshot,
  attackWorld,
  closeAttackWorld,
  type AttackWorld,
} from '../helpers/e2e-world.ts';

const NAME = 'fedora-hollow';
let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-empty-image-', {
    templates: [smallTemplate(NAME, '4.2.0', '2', 'unused', { image: { size: 0, extents: [] } })],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'a signed package with a 0-byte image: refused, the old root volume stays',
  async () => {
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(run, 'image.empty');
    await expectUntouched(scenario, before, NAME);
  },
  CLI_TIMEOUT_MS,
);
