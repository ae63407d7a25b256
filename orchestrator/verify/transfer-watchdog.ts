/**
 * How long the worker may take: the rules that stop a worker from holding the orchestrator (and
 * its operation lock) for ever. Pure: time comes in as numbers (milliseconds of the transfer
 * clock, which runs while the orchestrator waits for or reads the worker's frames, not while it
 * awaits its own work such as the volume import), so tests drive every rule in microseconds.
 *
 * - Idle: the transfer must move forward at least once per idleTimeoutMs. Only frames that move
 *   the verified transfer forward count (FrameReceiver says which: every accepted frame but
 *   PROGRESS); a worker that only reports progress is idle.
 * - Minimum progress: once the first file began, every window of minProgressWindowMs must bring
 *   minProgressBytes of file data (or what is left of the signed total, if less).
 * - Deadline: the whole transfer ends within deadlineBaseMs + signed file bytes / minRate. Until
 *   the header verified, only the fixed allowance applies.
 */
import { OrchestratorError } from '../errors.ts';

export interface TransferLimits {
  /** TMPL_WORKER_IDLE_TIMEOUT_MS: longest time without a frame that moves the transfer forward. */
  readonly idleTimeoutMs: number;
  /** TMPL_WORKER_PROGRESS_WINDOW_MS: the window of the minimum-progress rule. */
  readonly minProgressWindowMs: number;
  /** TMPL_WORKER_PROGRESS_MIN_BYTES: file data bytes each window must bring. */
  readonly minProgressBytes: number;
  /** TMPL_WORKER_DEADLINE_BASE_MS: fixed part of the overall deadline. */
  readonly deadlineBaseMs: number;
  /** TMPL_WORKER_MIN_RATE: bytes per second of signed file data the overall deadline allows for. */
  readonly minRateBytesPerSecond: number;
}

/** Default: a worker is given up after this long without moving the transfer forward. */
export const WORKER_IDLE_TIMEOUT_MS = 120_000;
/** Default window of the minimum-progress rule. */
export const WORKER_PROGRESS_WINDOW_MS = 60_000;
/** Default file data per window: 1 MiB a minute (17 KiB/s) is far below any usable mirror. */
export const WORKER_PROGRESS_MIN_BYTES = 1024 * 1024;
/** Default fixed allowance of the deadline: metadata, the package head, slow starts. */
export const WORKER_DEADLINE_BASE_MS = 10 * 60_000;
/**
 * Default rate the deadline allows for: 64 KiB/s of uncompressed signed data (a 6 GB image gets
 * about 25 hours), slower than a Tor circuit with the payload's compression ratio.
 */
export const WORKER_MIN_RATE_BYTES_PER_SECOND = 64 * 1024;

export const DEFAULT_TRANSFER_LIMITS: TransferLimits = {
  idleTimeoutMs: WORKER_IDLE_TIMEOUT_MS,
  minProgressWindowMs: WORKER_PROGRESS_WINDOW_MS,
  minProgressBytes: WORKER_PROGRESS_MIN_BYTES,
  deadlineBaseMs: WORKER_DEADLINE_BASE_MS,
  minRateBytesPerSecond: WORKER_MIN_RATE_BYTES_PER_SECOND,
};

/** The limits with the given ones taken over; each must be a positive finite number. */
export function transferLimits(overrides: Partial<TransferLimits> = {}): TransferLimits {
  const limits = { ...DEFAULT_TRANSFER_LIMITS };
  for (const key of Object.keys(DEFAULT_TRANSFER_LIMITS) as (keyof TransferLimits)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value <= 0)
      throw new OrchestratorError('usage', `transfer limit ${key} must be a positive number, not ${value}`);
    limits[key] = value;
  }
  return limits;
}

/** The minimum-progress window in force once file data began. */
interface ProgressWindow {
  readonly startMs: number;
  /** File data bytes still to come when the window started. */
  readonly remaining: number;
  bytes: number;
}

export class TransferWatchdog {
  readonly #limits: TransferLimits;
  readonly #startMs: number;
  #lastAdvanceMs: number;
  #deadlineMs: number;
  /** Signed file bytes (all accepted files); undefined until the header verified. */
  #totalBytes: number | undefined;
  #doneBytes = 0;
  #window: ProgressWindow | undefined;
  #finished = false;

  constructor(limits: TransferLimits, nowMs: number) {
    this.#limits = limits;
    this.#startMs = nowMs;
    this.#lastAdvanceMs = nowMs;
    this.#deadlineMs = nowMs + limits.deadlineBaseMs;
  }

  /** The header verified: the deadline grows by the signed file bytes at the minimum rate. */
  sized(totalBytes: number): void {
    this.#totalBytes = totalBytes;
    this.#deadlineMs =
      this.#startMs +
      this.#limits.deadlineBaseMs +
      Math.ceil((totalBytes * 1000) / this.#limits.minRateBytesPerSecond);
  }

  /** A frame moved the transfer forward, bringing `dataBytes` of file data. */
  advanced(nowMs: number, dataBytes: number): void {
    this.#lastAdvanceMs = nowMs;
    this.#doneBytes += dataBytes;
    if (this.#window) this.#window.bytes += dataBytes;
  }

  /** The first file began: the minimum-progress rule applies from now. */
  filesStarted(nowMs: number): void {
    this.#window ??= { startMs: nowMs, remaining: this.#remaining(), bytes: 0 };
  }

  /** END arrived: only the idle rule still applies (to the end of the stream). */
  finished(): void {
    this.#finished = true;
  }

  /** Throws 'worker.timeout', 'worker.too-slow' or 'worker.deadline' when a rule is broken at `nowMs`. */
  check(nowMs: number): void {
    const idle = nowMs - this.#lastAdvanceMs;
    if (idle >= this.#limits.idleTimeoutMs) {
      throw new OrchestratorError(
        'worker.timeout',
        `the worker did not move the transfer forward for ${Math.round(idle / 1000)} s`,
      );
    }
    if (this.#finished) return;
    if (nowMs >= this.#deadlineMs) {
      throw new OrchestratorError(
        'worker.deadline',
        `the transfer did not end within ${Math.round((this.#deadlineMs - this.#startMs) / 1000)} s`,
      );
    }
    const window = this.#window;
    if (window && nowMs - window.startMs >= this.#limits.minProgressWindowMs) {
      const needed = Math.min(this.#limits.minProgressBytes, window.remaining);
      if (window.bytes < needed) {
        throw new OrchestratorError(
          'worker.too-slow',
          `the worker sent ${window.bytes} bytes of file data in ${Math.round((nowMs - window.startMs) / 1000)} s, ` +
            `less than the ${needed} required`,
        );
      }
      this.#window = { startMs: nowMs, remaining: this.#remaining(), bytes: 0 };
    }
  }

  /** The earliest time at which check() could throw: when the caller's timer should fire. */
  nextCheckAt(): number {
    let at = this.#lastAdvanceMs + this.#limits.idleTimeoutMs;
    if (this.#finished) return at;
    at = Math.min(at, this.#deadlineMs);
    if (this.#window) at = Math.min(at, this.#window.startMs + this.#limits.minProgressWindowMs);
    return at;
  }

  #remaining(): number {
    return this.#totalBytes === undefined ? Number.POSITIVE_INFINITY : this.#totalBytes - this.#doneBytes;
  }
}
