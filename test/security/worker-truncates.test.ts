/**
 * Attack (or a crash): the worker's stream ends in the middle of the first root.img part. The
 * import has received a prefix of the image; it must not be committed: the reinstall fails,
 * Qubes discards the import, the root volume stays.
 */
import { defineAttack, MEETS_RUNNING_IMPORT, installedVictim } from '../helpers/kit/index.ts';

const NAME = 'fedora-victim';

defineAttack('tmpl-sec-truncate-', installedVictim(NAME, ['1'], 'truncate'), [
  {
    name: 'a stream cut in the middle of a part: the reinstall fails, the root volume stays',
    argv: ['reinstall', '--yes', '--skip-start', NAME],
    code: 'frame.truncated',
    // the import had received a prefix of the image
    ...MEETS_RUNNING_IMPORT,
  },
]);
