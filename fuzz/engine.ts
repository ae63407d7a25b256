/**
 * The coverage-guided loop. Inputs come from the queue (seed corpus, then every input that ran a
 * block of the target's sources not run before) through the mutator, and one batch in four also
 * from the target's fast-check arbitrary. Inputs run in batches and coverage is taken once per
 * batch (a take costs milliseconds, an execution microseconds); a batch that ran a new block is
 * bisected to the input that did, which joins the queue. The batch grows while nothing new turns
 * up and shrinks when something does.
 */
import path from 'node:path';
import * as fc from 'fast-check';
import { BlockCoverage } from './coverage.ts';
import { REPO_ROOT } from './corpus.ts';
import { mutate, Random } from './mutate.ts';
import { describeCrash, judge, type FuzzTarget } from './target.ts';

export const MIN_BATCH = 16;
export const MAX_BATCH = 1024;
/** Distinct crashes kept per target; past that, only counted. */
export const MAX_CRASHES_KEPT = 20;

export interface EngineHooks {
  /** Called with each input before it runs (the watchdog's copy of the current input). */
  beforeRun?(input: Uint8Array): void;
  crash?(input: Uint8Array, description: string): void;
  /** An input that ran a new block (for --save). */
  newCoverage?(input: Uint8Array): void;
}

export interface EngineOptions {
  readonly deadline: number;
  readonly seed: number;
  readonly seeds: readonly Uint8Array[];
  /** End the run at the first crash (tests). */
  readonly stopOnCrash?: boolean;
}

export interface EngineStats {
  executions: number;
  accepted: number;
  refused: number;
  crashes: number;
  /** Distinct crash descriptions. */
  crashKinds: string[];
  blocksCovered: number;
  blocksKnown: number;
  corpus: number;
  /** Inputs the run added to the queue. */
  added: number;
  /** Longest single execution, in milliseconds. */
  slowestMs: number;
  /** Refusal codes seen, with counts. */
  codes: Record<string, number>;
}

const encoder = new TextEncoder();

/** Crash signatures without numbers, so that the same bug at another offset counts once. */
function signature(description: string): string {
  return description.replace(/[0-9a-f]{16,}|[0-9]+/g, 'N');
}

export async function fuzz(
  target: FuzzTarget,
  opts: EngineOptions,
  hooks: EngineHooks = {},
): Promise<EngineStats> {
  const rng = new Random(opts.seed);
  const coverage = new BlockCoverage(target.sources.map((s) => path.join(REPO_ROOT, s)));
  const dictionary = target.dictionary.map((t) => (typeof t === 'string' ? encoder.encode(t) : t));
  const stats: EngineStats = {
    executions: 0,
    accepted: 0,
    refused: 0,
    crashes: 0,
    crashKinds: [],
    blocksCovered: 0,
    blocksKnown: 0,
    corpus: 0,
    added: 0,
    slowestMs: 0,
    codes: {},
  };
  const seen = new Set<string>();
  const queue: Uint8Array[] = [];

  const execute = async (input: Uint8Array): Promise<void> => {
    hooks.beforeRun?.(input);
    const started = performance.now();
    const outcome = await judge(target, input);
    stats.slowestMs = Math.max(stats.slowestMs, performance.now() - started);
    stats.executions++;
    if (outcome.kind === 'accepted') stats.accepted++;
    else if (outcome.kind === 'refused') {
      stats.refused++;
      stats.codes[outcome.code] = (stats.codes[outcome.code] ?? 0) + 1;
    } else {
      stats.crashes++;
      const description = describeCrash(outcome.error);
      const key = signature(description);
      if (!seen.has(key) && seen.size < MAX_CRASHES_KEPT) {
        seen.add(key);
        stats.crashKinds.push(description);
        hooks.crash?.(input, description);
      }
    }
  };

  /** Finds an input of `batch` that runs a new block (the counters are fresh on entry). */
  const bisect = async (batch: readonly Uint8Array[]): Promise<void> => {
    if (batch.length === 1) {
      const [input] = batch as [Uint8Array];
      await execute(input);
      const ran = await coverage.take();
      if (coverage.merge(ran) > 0) {
        queue.push(input);
        stats.added++;
        hooks.newCoverage?.(input);
      }
      return;
    }
    const half = Math.ceil(batch.length / 2);
    for (const part of [batch.slice(0, half), batch.slice(half)]) {
      for (const input of part) await execute(input);
      if (coverage.hasNew(await coverage.take())) {
        await bisect(part);
        return;
      }
    }
  };

  await coverage.start();
  try {
    for (const seed of opts.seeds) {
      await execute(seed);
      coverage.merge(await coverage.take());
      queue.push(seed);
    }
    let batchSize = MIN_BATCH;
    while (Date.now() < opts.deadline && !(opts.stopOnCrash === true && stats.crashes > 0)) {
      const batch: Uint8Array[] = [];
      if (target.arbitrary !== undefined && rng.below(4) === 0) {
        for (const input of fc.sample(target.arbitrary, { seed: rng.next() | 0, numRuns: batchSize })) {
          batch.push(input.length > target.maxInputBytes ? input.slice(0, target.maxInputBytes) : input);
        }
      } else {
        for (let i = 0; i < batchSize; i++) {
          const base = rng.pick(queue) ?? new Uint8Array(0);
          batch.push(
            mutate(base, rng, { dictionary, other: rng.pick(queue), maxBytes: target.maxInputBytes }),
          );
        }
      }
      for (const input of batch) await execute(input);
      if (coverage.hasNew(await coverage.take())) {
        await bisect(batch);
        batchSize = MIN_BATCH;
      } else {
        batchSize = Math.min(MAX_BATCH, batchSize * 2);
      }
    }
    await coverage.take();
  } finally {
    stats.blocksCovered = coverage.covered;
    stats.blocksKnown = coverage.known;
    stats.corpus = queue.length;
  }
  return stats;
}
