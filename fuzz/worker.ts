/**
 * The fuzzing itself, inside a worker thread so that the main thread can stop it when an input
 * hangs or exhausts the memory limit. Before each execution the input is copied into shared
 * memory and the execution counter is bumped, so the main thread always holds the input that was
 * running when the worker stopped answering.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startCoverage } from './coverage.ts';
import { loadCorpus } from './corpus.ts';
import { fuzz } from './engine.ts';
import {
  COUNTER_EXECUTIONS,
  COUNTER_LENGTH,
  COUNTER_TARGET,
  SHARED_HEADER_BYTES,
  type WorkerInput,
  type WorkerMessage,
} from './worker-messages.ts';

const data = workerData as WorkerInput;
const port = parentPort;
if (port === null) throw new Error('fuzz/worker.ts runs as a worker thread');
const counters = new Int32Array(data.shared, 0, SHARED_HEADER_BYTES / 4);
const current = new Uint8Array(data.shared, SHARED_HEADER_BYTES);
const post = (message: WorkerMessage) => port.postMessage(message);
// Coverage first, then the parsers: see startCoverage.
await startCoverage();
const { targetNamed } = await import('./targets.ts');

for (const [index, name] of data.targets.entries()) {
  const target = targetNamed(name);
  if (target === undefined) throw new Error(`no fuzz target ${name}`);
  const started = Date.now();
  Atomics.store(counters, COUNTER_TARGET, index);
  const seeds = (await loadCorpus(name)).map((entry) => entry.bytes);
  const stats = await fuzz(
    target,
    {
      deadline: started + Math.max(0, data.deadline - started) / (data.targets.length - index),
      seed: data.seed,
      seeds,
    },
    {
      beforeRun(input) {
        const length = Math.min(input.length, current.length);
        current.set(input.subarray(0, length));
        Atomics.store(counters, COUNTER_LENGTH, length);
        Atomics.add(counters, COUNTER_EXECUTIONS, 1);
      },
      crash: (input, description) => post({ type: 'crash', target: name, input, description }),
      newCoverage: (input) => post({ type: 'new-coverage', target: name, input }),
    },
  );
  post({ type: 'done', target: name, stats, seeds: seeds.length, seconds: (Date.now() - started) / 1000 });
}
