/**
 * Attack: a subverted worker sends the genuine signed head but METADATA describing another
 * release (what it would want the orchestrator to record). Every METADATA field must agree with
 * the verified header: the install fails and the template VM created for it is removed again.
 */
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/kit/index.ts';

defineAttack(
  'tmpl-sec-metadata-',
  {
    templates: [smallTemplate('fedora-meta', '4.2.0', '1', 'm')],
    worker: () => lyingWorker('metadata-mismatch'),
  },
  [
    {
      name: 'METADATA naming another release than the signed header: refused, no VM left',
      argv: ['install', '--skip-start', 'fedora-meta'],
      code: 'worker.protocol',
    },
  ],
);
