/**
 * Attack: rollback. A subverted worker (or the mirror behind it) answers an upgrade with an
 * older package that is validly signed by the same key, to bring back a version with known
 * holes. The orchestrator asked for one exact EVR, higher than the installed one, and checks the
 * verified header's EVR before anything changes: the upgrade fails, the root volume stays.
 */
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/kit/index.ts';

const NAME = 'fedora-victim';

defineAttack(
  'tmpl-sec-older-',
  {
    templates: [
      smallTemplate(NAME, '4.2.0', '1', 'old'),
      smallTemplate(NAME, '4.2.0', '2', 'current'),
      smallTemplate(NAME, '4.2.0', '3', 'new'),
    ],
    planted: smallTemplate(NAME, '4.2.0', '2', 'planted'),
    worker: (s) => {
      const old = s.packages.find((p) => p.fileName.includes('4.2.0-1'))!;
      return lyingWorker('other-head', { TMPL_LIE_PACKAGE: old.path }, [s.repoDir]);
    },
  },
  [
    {
      name: 'an older validly signed package instead of the upgrade: refused, the root volume stays',
      argv: ['upgrade', '--yes', '--skip-start', NAME],
      code: 'package.unexpected',
    },
  ],
);
