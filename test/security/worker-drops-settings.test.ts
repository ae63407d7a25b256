/**
 * Attack: the worker leaves template.conf and the three appmenu lists out of METADATA and out of
 * its frames (END's totals adjusted), so that the template would come without its signed
 * settings (no gui/qrexec/net features, virt_mode left at its default). Every file the signed
 * header lists must be announced, streamed and verified: the upgrade is refused when METADATA
 * arrives, before anything is prepared, and the root volume stays.
 */
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/e2e-world.ts';

const NAME = 'fedora-settings';

defineAttack(
  'tmpl-sec-settings-',
  {
    templates: [smallTemplate(NAME, '4.2.0', '1', 's1'), smallTemplate(NAME, '4.2.0', '2', 's2')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('drop-settings'),
  },
  [
    {
      name: 'template.conf and the appmenu lists left out: refused, the root volume stays',
      argv: ['upgrade', '--yes', '--skip-start', NAME],
      code: 'worker.protocol',
    },
  ],
);
