/**
 * The transfer's time rules with a clock of plain numbers: idle (PROGRESS never resets it: the
 * caller only reports frames that moved the transfer forward), minimum progress per window once
 * the files began, and the deadline from the signed sizes.
 */
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import {
  DEFAULT_TRANSFER_LIMITS,
  TransferWatchdog,
  transferLimits,
  WORKER_IDLE_TIMEOUT_MS,
  type TransferLimits,
} from '../../../orchestrator/verify/transfer-watchdog.ts';

const LIMITS: TransferLimits = {
  idleTimeoutMs: 1000,
  minProgressWindowMs: 5000,
  minProgressBytes: 1000,
  deadlineBaseMs: 60_000,
  minRateBytesPerSecond: 100,
};

function codeAt(watchdog: TransferWatchdog, now: number): string | undefined {
  try {
    watchdog.check(now);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(OrchestratorError);
    return (error as OrchestratorError).code;
  }
}

describe('idle', () => {
  it('fires idleTimeoutMs after the last frame that moved the transfer forward', () => {
    const w = new TransferWatchdog(LIMITS, 0);
    expect(codeAt(w, 999)).toBeUndefined();
    w.advanced(900, 0);
    expect(codeAt(w, 1899)).toBeUndefined();
    expect(w.nextCheckAt()).toBe(1900);
    expect(codeAt(w, 1900)).toBe('worker.timeout');
  });

  it('a worker that only reports progress is idle: nothing the caller reports moves the timer', () => {
    const w = new TransferWatchdog(LIMITS, 0);
    w.advanced(0, 0);
    // PROGRESS frames every 100 ms: FrameReceiver marks them not advanced, the caller reports nothing.
    for (let t = 100; t < 1000; t += 100) expect(codeAt(w, t)).toBeUndefined();
    expect(codeAt(w, 1000)).toBe('worker.timeout');
  });

  it('still applies after END (to the end of the stream); the other rules stop', () => {
    const w = new TransferWatchdog(LIMITS, 0);
    w.sized(0);
    w.filesStarted(0);
    w.advanced(59_500, 0);
    w.finished();
    expect(codeAt(w, 60_400)).toBeUndefined();
    expect(codeAt(w, 60_500)).toBe('worker.timeout');
  });
});

describe('minimum progress', () => {
  it('each window once the files began must bring minProgressBytes', () => {
    const w = new TransferWatchdog({ ...LIMITS, idleTimeoutMs: 100_000 }, 0);
    w.sized(100_000);
    expect(codeAt(w, 50_000)).toBeUndefined(); // no window before the first file
    w.filesStarted(50_000);
    expect(w.nextCheckAt()).toBe(55_000);
    w.advanced(51_000, 999);
    expect(codeAt(w, 55_000)).toBe('worker.too-slow');
  });

  it('a window with enough bytes starts the next one', () => {
    const w = new TransferWatchdog({ ...LIMITS, idleTimeoutMs: 100_000 }, 0);
    w.sized(100_000);
    w.filesStarted(0);
    w.advanced(4000, 1000);
    expect(codeAt(w, 5000)).toBeUndefined();
    expect(w.nextCheckAt()).toBe(10_000);
    w.advanced(9000, 999);
    expect(codeAt(w, 10_000)).toBe('worker.too-slow');
  });

  it('asks no more than what is left of the signed bytes', () => {
    const w = new TransferWatchdog({ ...LIMITS, idleTimeoutMs: 100_000 }, 0);
    w.sized(1200);
    w.filesStarted(0);
    w.advanced(1000, 1000);
    expect(codeAt(w, 5000)).toBeUndefined();
    w.advanced(6000, 200);
    expect(codeAt(w, 10_000)).toBeUndefined();
    expect(codeAt(w, 15_000)).toBeUndefined(); // nothing left to send: only idle and the deadline
  });
});

describe('deadline', () => {
  it('is the base allowance plus the signed bytes at the minimum rate', () => {
    const w = new TransferWatchdog({ ...LIMITS, idleTimeoutMs: 1e9, minProgressWindowMs: 1e9 }, 1000);
    expect(w.nextCheckAt()).toBe(61_000);
    w.sized(10_000); // 100 s at 100 bytes/s
    expect(w.nextCheckAt()).toBe(161_000);
    w.filesStarted(2000);
    w.advanced(160_000, 9999);
    expect(codeAt(w, 160_999)).toBeUndefined();
    expect(codeAt(w, 161_000)).toBe('worker.deadline');
  });

  it('before the header verified, only the fixed allowance', () => {
    const w = new TransferWatchdog({ ...LIMITS, idleTimeoutMs: 1e9 }, 0);
    expect(codeAt(w, 60_000)).toBe('worker.deadline');
  });
});

describe('transferLimits', () => {
  it('defaults to the named constants and takes positive overrides', () => {
    expect(transferLimits()).toEqual(DEFAULT_TRANSFER_LIMITS);
    expect(transferLimits().idleTimeoutMs).toBe(WORKER_IDLE_TIMEOUT_MS);
    expect(transferLimits({ minProgressBytes: 5 }).minProgressBytes).toBe(5);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s', (value) => {
    expect(() => transferLimits({ deadlineBaseMs: value })).toThrow(OrchestratorError);
  });
});
