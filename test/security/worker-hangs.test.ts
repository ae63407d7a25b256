/**
 * Attack: the worker stops sending in the middle of the image and stays alive, holding the
 * operation lock and a half-made template forever. The orchestrator gives up after
 * TMPL_WORKER_IDLE_TIMEOUT_MS without a byte, kills the disposable and removes the template VM
 * it had created for this install.
 */
import { expect } from 'vitest';
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/kit/index.ts';

const IDLE_MS = 4000;

defineAttack(
  'tmpl-sec-hang-',
  {
    templates: [smallTemplate('fedora-hang', '4.2.0', '1', 'h')],
    worker: () => lyingWorker('hang'),
  },
  [
    {
      name: 'a worker that goes silent: timed out, disposable killed, the new template VM removed',
      argv: ['install', '--skip-start', 'fedora-hang'],
      env: { TMPL_WORKER_IDLE_TIMEOUT_MS: String(IDLE_MS) },
      code: 'worker.timeout',
      check: (_run, _world, elapsedMs) => expect(elapsedMs).toBeGreaterThanOrEqual(IDLE_MS),
    },
  ],
);
