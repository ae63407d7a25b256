/**
 * Attack: a subverted worker answers a request for one template with the validly signed head of
 * another package from the same repository. The signature verifies, but the orchestrator compares
 * the verified NAME and EVR with what it asked for before anything is created: nothing changes.
 */
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/kit/index.ts';

defineAttack(
  'tmpl-sec-other-head-',
  {
    templates: [
      smallTemplate('fedora-asked', '4.2.0', '1', 'a'),
      smallTemplate('evil-other', '9.9.9', '1', 'b'),
    ],
    worker: (s) => {
      const other = s.packages.find((p) => p.packageName === 'qubes-template-evil-other')!;
      return lyingWorker('other-head', { TMPL_LIE_PACKAGE: other.path }, [s.repoDir]);
    },
  },
  [
    {
      name: 'another signed package head: refused as unexpected, no VM created',
      argv: ['install', '--skip-start', 'fedora-asked'],
      code: 'package.unexpected',
    },
  ],
);
