/**
 * `npm run fuzz -- --seconds N [--target T]... [--seed S] [--save]`: fuzzes every target (or the
 * named ones) for N seconds in total, split evenly, one worker thread per target, and prints per
 * target the executions, the blocks of its sources covered, the corpus size and the crashes. A
 * crashing, hanging or memory-exhausting input is written to fuzz/crashes/ and makes the run
 * exit 1. --save adds the inputs that reached new blocks to fuzz/corpus/<target>/.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { CORPUS_DIR, CRASHES_DIR, saveInput } from './corpus.ts';
import type { EngineStats } from './engine.ts';
import { TARGETS, targetNamed } from './targets.ts';
import type { FuzzTarget } from './target.ts';
import {
  COUNTER_EXECUTIONS,
  COUNTER_LENGTH,
  COUNTER_TARGET,
  SHARED_HEADER_BYTES,
  type WorkerInput,
  type WorkerMessage,
} from './worker-messages.ts';

/** An execution that runs this long without returning is a hang. */
export const HANG_MS = 10_000;
/** Time a worker may take to load its target and run its first input. */
export const STARTUP_MS = 60_000;
/** Heap limit of a target's worker: a parser that needs more is a crash (bounded memory). */
export const WORKER_HEAP_MB = 1024;
const WATCH_INTERVAL_MS = 250;

interface TargetResult {
  readonly target: FuzzTarget;
  stats?: EngineStats;
  seeds: number;
  seconds: number;
  readonly crashFiles: string[];
  failure?: string;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run fuzz -- --seconds N [--target NAME]... [--seed N] [--save]\n`,
  );
  process.stderr.write(`targets: ${TARGETS.map((t) => t.name).join(', ')}\n`);
  process.exit(2);
}

/**
 * Runs `results`' targets in one worker until it finishes or one of them hangs, dies or runs out
 * of memory; returns the index of the target it stopped at (results.length when all finished).
 */
async function runWorker(
  results: readonly TargetResult[],
  opts: { deadline: number; seed: number; save: boolean },
): Promise<number> {
  const maxInput = Math.max(...results.map((r) => r.target.maxInputBytes));
  const shared = new SharedArrayBuffer(SHARED_HEADER_BYTES + maxInput);
  const counters = new Int32Array(shared, 0, SHARED_HEADER_BYTES / 4);
  const current = () =>
    new Uint8Array(shared, SHARED_HEADER_BYTES, Atomics.load(counters, COUNTER_LENGTH)).slice();
  const workerData: WorkerInput = {
    targets: results.map((r) => r.target.name),
    deadline: opts.deadline,
    seed: opts.seed,
    shared,
  };
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const worker = new Worker(
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`,
    { eval: true, workerData, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } },
  );
  const started = Date.now();
  const pending: Promise<unknown>[] = [];
  const resultOf = (name: string) => results.find((r) => r.target.name === name);
  const crash = (result: TargetResult | undefined, input: Uint8Array, description: string) => {
    if (result === undefined) return;
    pending.push(
      saveInput(CRASHES_DIR, input, `${result.target.name}-`).then((file) => {
        result.crashFiles.push(file);
        process.stderr.write(
          `${result.target.name}: CRASH ${description}\n  input: ${path.relative(process.cwd(), file)}\n`,
        );
      }),
    );
  };
  let finished = 0;
  const stoppedAt = await new Promise<number>((resolve) => {
    let lastCount = 0;
    let lastChange = Date.now();
    const stop = (what: string, withInput: boolean) => {
      const running = results[Atomics.load(counters, COUNTER_TARGET)];
      if (running !== undefined && running.stats === undefined) {
        running.failure = what;
        running.seconds = (Date.now() - started) / 1000;
        if (withInput) crash(running, current(), what);
      }
      clearInterval(watch);
      void worker.terminate();
      resolve(Math.max(finished, Atomics.load(counters, COUNTER_TARGET)) + 1);
    };
    const watch = setInterval(() => {
      const count = Atomics.load(counters, COUNTER_EXECUTIONS);
      if (count !== lastCount) {
        lastCount = count;
        lastChange = Date.now();
        return;
      }
      const limit = count === 0 ? STARTUP_MS : HANG_MS;
      if (Date.now() - lastChange > limit) {
        if (count === 0) stop('the worker did not start', false);
        else
          stop(
            `hang: one input ran for more than ${HANG_MS / 1000} s (a loop, or memory growing to the heap limit)`,
            true,
          );
      }
    }, WATCH_INTERVAL_MS);
    worker.on('message', (message: WorkerMessage) => {
      const result = resultOf(message.target);
      if (message.type === 'crash') crash(result, message.input, message.description);
      else if (message.type === 'new-coverage') {
        if (opts.save) pending.push(saveInput(path.join(CORPUS_DIR, message.target), message.input));
      } else if (result !== undefined) {
        result.stats = message.stats;
        result.seeds = message.seeds;
        result.seconds = message.seconds;
        finished = results.indexOf(result) + 1;
      }
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY')
        stop(`out of memory (heap limit ${WORKER_HEAP_MB} MiB)`, true);
      else
        stop(
          `worker failed: ${error.stack ?? error.message}`,
          Atomics.load(counters, COUNTER_EXECUTIONS) > 0,
        );
    });
    worker.on('exit', () => {
      clearInterval(watch);
      resolve(finished === results.length ? finished : finished + 1);
    });
  });
  await Promise.all(pending);
  return stoppedAt;
}

function report(results: readonly TargetResult[]): string {
  const rows = [
    ['target', 'executions', 'exec/s', 'slowest ms', 'blocks covered', 'corpus (seeds+new)', 'crashes'],
  ];
  let executions = 0;
  let blocks = 0;
  let crashes = 0;
  for (const r of results) {
    const s = r.stats;
    const kept = r.crashFiles.length;
    crashes += s !== undefined ? s.crashes : kept;
    if (s === undefined) {
      rows.push([r.target.name, '-', '-', '-', '-', `${r.seeds}`, `${kept} (${r.failure ?? 'no result'})`]);
      continue;
    }
    executions += s.executions;
    blocks += s.blocksCovered;
    rows.push([
      r.target.name,
      `${s.executions}`,
      `${Math.round(s.executions / Math.max(r.seconds, 0.001))}`,
      s.slowestMs.toFixed(1),
      `${s.blocksCovered}/${s.blocksKnown}`,
      `${r.seeds}+${s.added}`,
      `${s.crashes}`,
    ]);
  }
  rows.push(['total', `${executions}`, '', '', `${blocks}`, '', `${crashes}`]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    target: { type: 'string', multiple: true },
    seed: { type: 'string' },
    save: { type: 'boolean', default: false },
  },
  strict: true,
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0) usage(`--seconds: not a positive number: ${values.seconds}`);
const names = (values.target ?? []).flatMap((t) => t.split(','));
const targets =
  names.length === 0 ? TARGETS : names.map((n) => targetNamed(n) ?? usage(`unknown target ${n}`));
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : Date.now() >>> 0;

process.stdout.write(
  `fuzzing ${targets.length} target(s) for ${seconds} s (seed ${seed}; coverage: V8 blocks of each target's sources)\n`,
);
const results: TargetResult[] = targets.map((target) => ({ target, seeds: 0, seconds: 0, crashFiles: [] }));
const deadline = Date.now() + seconds * 1000;
for (let next = 0; next < results.length;) {
  next += await runWorker(results.slice(next), { deadline, seed, save: values.save });
}
process.stdout.write(`${report(results)}\n`);
const failed = results.filter(
  (r) => r.crashFiles.length > 0 || r.failure !== undefined || (r.stats?.crashes ?? 0) > 0,
);
if (failed.length > 0) {
  process.stdout.write(
    `crashes in: ${failed.map((r) => r.target.name).join(', ')} (inputs in fuzz/crashes/)\n`,
  );
  process.exitCode = 1;
}
