/**
 * Attack: a subverted worker flips one byte in the last root.img part, the one piece of data
 * that would complete the import. The orchestrator hashes every part as it streams and holds
 * the import's last chunk back until the part's digest matched FILEDIGESTS of the signed header:
 * the reinstall fails and Qubes discards the import, so the installed root volume stays as it was.
 * A package whose payload carries the corrupt part (a hostile mirror) is refused as well, by the
 * worker itself before anything is sent.
 */
import { expect } from 'vitest';
import { defineAttack, MEETS_RUNNING_IMPORT, lyingWorker, smallTemplate } from '../helpers/kit/index.ts';

const NAME = 'fedora-victim';

defineAttack(
  'tmpl-sec-corrupt-',
  {
    templates: [
      smallTemplate(NAME, '4.2.0', '1', 'v1'),
      smallTemplate(NAME, '4.2.0', '2', 'v2', { mutations: { corruptLastPart: {} } }),
    ],
    // installed at 4.2.0-1 with a root volume no package holds
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
  },
  [
    {
      name: 'a worker corrupting the last part: the reinstall fails on the digest, the old root volume stays',
      worker: () => lyingWorker('corrupt-last-part'),
      argv: ['reinstall', '--yes', '--skip-start', NAME],
      code: 'digest.file-mismatch',
      // the attack met a running import, which Qubes then discarded
      ...MEETS_RUNNING_IMPORT,
    },
    {
      name: 'a package whose payload carries a corrupt last part: the upgrade fails, the old root volume stays',
      argv: ['upgrade', '--yes', '--skip-start', NAME],
      code: 'worker.reported-error',
      check: (run) => expect(run.stderr).toContain('digest'),
    },
  ],
);
