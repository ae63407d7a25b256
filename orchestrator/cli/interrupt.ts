/**
 * SIGINT (Ctrl-C on a terminal), SIGTERM (what `timeout` and service managers send) and SIGHUP
 * (the terminal went away) end a run in order: the signal aborts one AbortSignal that the commands
 * thread through to the running work; the work stops (the worker is closed and its disposable
 * killed, the import ends short so Qubes discards it, a post-install call is ended), what the run
 * created is removed, the lock released, and the CLI exits with the status a shell reports for a
 * process killed by that signal (128 + its number), `--json` error code `interrupted`.
 *
 * The abort's reason is the one InterruptedError of the run: `signal.throwIfAborted()` anywhere
 * throws it, and the CLI reports it in place of whatever the interrupted work failed with (a
 * worker stream cut short, a qrexec-client killed by the same signal: both are the interruption).
 *
 * A repeated signal does not abandon the cleanup: the handlers stay installed until the command
 * has returned. Whatever tmpl could not undo itself (it may still be killed with SIGKILL) is left
 * to the cleanup guard, which runs in a session of its own (lock.ts, cleanup-journal.ts).
 */
import { constants } from 'node:os';
import { OrchestratorError } from '../errors.ts';

export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

export class InterruptedError extends OrchestratorError {
  readonly signal: InterruptSignal;

  constructor(signal: InterruptSignal) {
    super('interrupted', `interrupted by ${signal}`);
    this.signal = signal;
  }

  /** The status a shell shows for a process that died of this signal: 128 + its number. */
  get exitCode(): number {
    return 128 + constants.signals[this.signal];
  }
}

export interface InterruptTrap {
  /** Aborted, with an InterruptedError as its reason, by the first of the signals. */
  readonly signal: AbortSignal;
  /** Removes the handlers: the signals have their default effect again. */
  release(): void;
}

export interface TrapOptions {
  /** Called for each signal after the first, while the cleanup goes on. */
  readonly onRepeat?: (signal: InterruptSignal) => void;
}

/** Installs handlers for SIGINT, SIGTERM and SIGHUP on `target` (the process). */
export function trapInterrupts(target: NodeJS.EventEmitter, options: TrapOptions = {}): InterruptTrap {
  const controller = new AbortController();
  const handlers = INTERRUPT_SIGNALS.map((name) => {
    const handler = (): void => {
      if (controller.signal.aborted) options.onRepeat?.(name);
      else controller.abort(new InterruptedError(name));
    };
    target.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    release() {
      for (const [name, handler] of handlers) target.off(name, handler);
    },
  };
}

/** What to report for `error` thrown by work that ran under `signal`: the interruption, if any. */
export function interruptionOr(error: unknown, signal: AbortSignal | undefined): unknown {
  return signal?.aborted && signal.reason instanceof InterruptedError ? signal.reason : error;
}
