/**
 * Attack: once the first root.img part began, the worker sends a PROGRESS frame every half
 * second and nothing else. Before, any frame reset the idle timer, so this held the orchestrator
 * (and its lock) for ever. PROGRESS proves nothing: only frames that move the verified transfer
 * forward count, and the file data must keep a minimum pace. Both rules are set small through
 * their environment variables so that each run ends in seconds; each removes the template VM it
 * had created and kills the disposable.
 */
import { expect } from 'vitest';
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/kit/index.ts';

const NAME = 'fedora-stall';
const SHORT_MS = 3000;
const LONG_MS = 120_000;

defineAttack(
  'tmpl-sec-stall-',
  {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'st')],
    worker: () => lyingWorker('progress-stall'),
  },
  [
    {
      name: 'PROGRESS every 0.5 s is no liveness: idle timeout, no VM left',
      argv: ['install', '--skip-start', NAME],
      env: {
        TMPL_WORKER_IDLE_TIMEOUT_MS: String(SHORT_MS),
        TMPL_WORKER_PROGRESS_WINDOW_MS: String(LONG_MS),
      },
      code: 'worker.timeout',
      check: (_run, _world, elapsedMs) => expect(elapsedMs).toBeGreaterThanOrEqual(SHORT_MS),
    },
    {
      name: 'no file data for a window of the minimum-progress rule: too slow, no VM left',
      argv: ['install', '--skip-start', NAME],
      env: {
        TMPL_WORKER_IDLE_TIMEOUT_MS: String(LONG_MS),
        TMPL_WORKER_PROGRESS_WINDOW_MS: String(SHORT_MS),
      },
      code: 'worker.too-slow',
    },
  ],
);
