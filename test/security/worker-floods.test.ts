/**
 * Attack: after the first FILE_BEGIN the worker sends FILE_DATA without end, to fill dom0's
 * memory or disk. The orchestrator counts each file's bytes against the signed header's size
 * and stops at the first byte too many; nothing is buffered beyond the bounded channel. The
 * upgrade fails, the root volume stays.
 */
import { defineAttack, installedVictim } from '../helpers/kit/index.ts';

const NAME = 'fedora-victim';

defineAttack('tmpl-sec-flood-', installedVictim(NAME, ['1', '2'], 'flood'), [
  {
    name: 'endless FILE_DATA: refused at the first byte past the signed size, the root volume stays',
    argv: ['upgrade', '--yes', '--skip-start', NAME],
    code: 'worker.protocol',
  },
]);
