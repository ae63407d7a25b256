/**
 * Attack: once the first root.img part began, the worker sends zero-length FILE_DATA frames
 * without end. They move nothing, so they never reach a size limit, and each costs the trusted
 * side a frame's work with the operation lock held. An empty FILE_DATA frame is a protocol
 * error: the upgrade fails at the first one, the root volume stays.
 */
import { expect } from 'vitest';
import { defineAttack, installedVictim } from '../helpers/kit/index.ts';

const NAME = 'fedora-empty-data';
/** Far longer than the refusal takes; the run must not wait for the idle timeout. */
const IDLE_MS = 60_000;

defineAttack('tmpl-sec-empty-data-', installedVictim(NAME, ['1', '2'], 'empty-data-flood'), [
  {
    name: 'endless empty FILE_DATA: refused at the first one, the root volume stays',
    argv: ['upgrade', '--yes', '--skip-start', NAME],
    env: { TMPL_WORKER_IDLE_TIMEOUT_MS: String(IDLE_MS) },
    code: 'worker.protocol',
    check: (_run, _world, elapsedMs) => expect(elapsedMs).toBeLessThan(IDLE_MS),
  },
]);
