/**
 * Attack: a subverted worker sends every frame honestly, then more frames after END. The image
 * is complete at that point; only the held-back last chunk keeps Qubes from committing it. The
 * orchestrator commits only when the worker's stream ended cleanly after END: the reinstall
 * fails, Qubes discards the import, the root volume stays.
 */
import { expect } from 'vitest';
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/e2e-world.ts';

const NAME = 'fedora-victim';

defineAttack(
  'tmpl-sec-extra-',
  {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'v1')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('extra-frames'),
  },
  [
    {
      name: 'frames after END: the reinstall fails before the import commits, the root volume stays',
      argv: ['reinstall', '--yes', '--skip-start', NAME],
      env: { TMPL_LOG_LEVEL: 'info' },
      code: 'frame.after-end',
      // every image byte but the held-back last chunk had reached the import
      check: (run) => expect(run.stderr).toContain('importing root volume'),
    },
  ],
);
