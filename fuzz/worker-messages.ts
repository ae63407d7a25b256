/** What the main thread and the fuzzing worker thread (fuzz/worker.ts) pass each other. */
import type { EngineStats } from './engine.ts';

export interface WorkerInput {
  /** Targets to fuzz in this order; the time left is shared evenly among those not yet run. */
  readonly targets: readonly string[];
  readonly deadline: number;
  readonly seed: number;
  /** Int32 [executions, input length, index of the running target], then the input bytes. */
  readonly shared: SharedArrayBuffer;
}

export type WorkerMessage =
  | {
      readonly type: 'crash';
      readonly target: string;
      readonly input: Uint8Array;
      readonly description: string;
    }
  | { readonly type: 'new-coverage'; readonly target: string; readonly input: Uint8Array }
  | {
      readonly type: 'done';
      readonly target: string;
      readonly stats: EngineStats;
      readonly seeds: number;
      readonly seconds: number;
    };

/** Bytes before the input in the shared buffer. */
export const SHARED_HEADER_BYTES = 12;
export const COUNTER_EXECUTIONS = 0;
export const COUNTER_LENGTH = 1;
export const COUNTER_TARGET = 2;
