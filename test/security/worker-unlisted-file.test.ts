/**
 * Attack: a file the signed header does not list (a script dropped next to the template's
 * files). From a subverted worker it is refused at FILE_BEGIN, before one byte of it is
 * accepted; the upgrade fails and the root volume stays. In a hostile package's payload the
 * honest worker refuses the whole package: a payload must hold exactly the header's files.
 */
import { expect } from 'vitest';
import { defineAttack, jsonOf, lyingWorker, smallTemplate } from '../helpers/kit/index.ts';

const NAME = 'fedora-victim';

defineAttack(
  'tmpl-sec-unlisted-',
  {
    templates: [
      smallTemplate(NAME, '4.2.0', '1', 'v1'),
      smallTemplate(NAME, '4.2.0', '2', 'v2'),
      smallTemplate(NAME, '4.2.0', '3', 'v3', {
        mutations: {
          unlistedFile: {
            path: `/var/lib/qubes/vm-templates/${NAME}/evil.sh`,
            content: '#!/bin/sh\nreboot\n',
          },
        },
      }),
    ],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
  },
  [
    {
      name: 'a subverted worker sending an unlisted file: refused, the root volume stays',
      worker: () => lyingWorker('unlisted-file'),
      // 4.2.0-2 is a clean package: the lie is the worker's alone
      argv: ['upgrade', '--yes', '--skip-start', `${NAME}-4.2.0-2`],
      code: 'worker.protocol',
      check: (run) => expect(run.stdout).toContain('evil.sh'),
    },
    {
      name: 'an unlisted file in the payload: the honest worker refuses the package, the root volume stays',
      argv: ['upgrade', '--yes', '--skip-start', NAME],
      code: 'worker.reported-error',
      check: (run) => expect(jsonOf(run).error?.message).toContain('payload.unlisted-file'),
    },
  ],
);
