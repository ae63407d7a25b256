/**
 * Attack: the worker leaves template.conf and the three appmenu lists out of METADATA and out of
 * its frames (END's totals adjusted), so that the template would come without its signed
 * settings (no gui/qrexec/net features, virt_mode left at its default). Every file the signed
 * header lists must be announced, streamed and verified: the upgrade is refused when METADATA
 * arrives, before anything is prepared, and the root volume stays.
 */
import { defineAttack, installedVictim } from '../helpers/kit/index.ts';

const NAME = 'fedora-settings';

defineAttack('tmpl-sec-settings-', installedVictim(NAME, ['1', '2'], 'drop-settings'), [
  {
    name: 'template.conf and the appmenu lists left out: refused, the root volume stays',
    argv: ['upgrade', '--yes', '--skip-start', NAME],
    code: 'worker.protocol',
  },
]);
