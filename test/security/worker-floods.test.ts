/**
 * Attack: after the first FILE_BEGIN the worker sends FILE_DATA without end, to fill dom0's
 * memory or disk. The orchestrator counts each file's bytes against the signed header's size
 * and stops at the first byte too many; nothing is buffered beyond the bounded channel. The
 * upgrade fails, the root volume stays.
 */
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/e2e-world.ts';

const NAME = 'fedora-victim';

defineAttack(
  'tmpl-sec-flood-',
  {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'v1'), smallTemplate(NAME, '4.2.0', '2', 'v2')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('flood'),
  },
  [
    {
      name: 'endless FILE_DATA: refused at the first byte past the signed size, the root volume stays',
      argv: ['upgrade', '--yes', '--skip-start', NAME],
      code: 'worker.protocol',
    },
  ],
);
