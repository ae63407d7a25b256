/**
 * Attack: a subverted worker sends every frame honestly, then more frames after END. The image
 * is complete at that point; only the held-back last chunk keeps Qubes from committing it. The
 * orchestrator commits only when the worker's stream ended cleanly after END: the reinstall
 * fails, Qubes discards the import, the root volume stays.
 */
import { defineAttack, MEETS_RUNNING_IMPORT, installedVictim } from '../helpers/kit/index.ts';

const NAME = 'fedora-victim';

defineAttack('tmpl-sec-extra-', installedVictim(NAME, ['1'], 'extra-frames'), [
  {
    name: 'frames after END: the reinstall fails before the import commits, the root volume stays',
    argv: ['reinstall', '--yes', '--skip-start', NAME],
    code: 'frame.after-end',
    // every image byte but the held-back last chunk had reached the import
    ...MEETS_RUNNING_IMPORT,
  },
]);
