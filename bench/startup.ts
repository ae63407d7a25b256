/**
 * Cold start of the command line (`tmpl --help`) and of the worker (until its HELLO frame), from
 * the built bundles (dist/, what is installed) beside the TypeScript sources run through tsx (how
 * tmpl started before it had a build). tsx keeps a transform cache in the temporary directory,
 * which is empty in every new disposable: the "cold" runs get a fresh TMPDIR each, the "warm"
 * ones share one.
 *
 *   npm run bench:startup [-- --runs N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;

const TSX_CLI = [
  '--input-type=module',
  '-e',
  "import { register } from 'tsx/esm/api'; register(); const { main } = await import('./orchestrator/cli/main.ts'); process.exitCode = await main(['--help']);",
];
const TSX_WORKER = [
  '--input-type=module',
  '-e',
  "import { register } from 'tsx/esm/api'; register(); const { main } = await import('./dispvm-worker/service.ts'); process.exitCode = await main();",
];

/** Milliseconds until the process exits (cli) or writes its first byte (worker). */
function timeOnce(args: readonly string[], tmpdir: string, until: 'exit' | 'first-byte'): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: tmpdir },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    child.once('error', reject);
    if (until === 'first-byte') {
      child.stdout.once('data', () => {
        resolve(performance.now() - started);
        child.kill('SIGKILL');
      });
    } else {
      child.stdout.resume();
      child.once('exit', (code) =>
        code === 0 ? resolve(performance.now() - started) : reject(new Error(`exit ${code}`)),
      );
    }
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function measure(
  args: readonly string[],
  until: 'exit' | 'first-byte',
  cold: boolean,
): Promise<number> {
  const shared = mkdtempSync(path.join(os.tmpdir(), 'tmpl-bench-start-'));
  const times: number[] = [];
  try {
    await timeOnce(args, shared, until); // warm the page cache (and, for warm runs, tsx's cache)
    for (let i = 0; i < RUNS; i++) {
      const dir = cold ? mkdtempSync(path.join(os.tmpdir(), 'tmpl-bench-cold-')) : shared;
      try {
        times.push(await timeOnce(args, dir, until));
      } finally {
        if (cold) rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(shared, { recursive: true, force: true });
  }
  return median(times);
}

const rows: [string, number, number, number][] = [];
for (const [label, built, source, until] of [
  ['tmpl --help (exit)', [path.join(ROOT, 'dist/tmpl.mjs'), '--help'], TSX_CLI, 'exit'],
  ['worker (first frame)', [path.join(ROOT, 'dist/tmpl-worker.mjs')], TSX_WORKER, 'first-byte'],
] as const) {
  const bundle = await measure(built, until, true);
  const tsxCold = await measure(source, until, true);
  const tsxWarm = await measure(source, until, false);
  rows.push([label, bundle, tsxCold, tsxWarm]);
}

process.stdout.write(
  `median of ${RUNS} runs, ms; Node ${process.version}\n` +
    `${'start'.padEnd(24)}${'built (dist/)'.padStart(14)}${'tsx, cold'.padStart(12)}${'tsx, warm'.padStart(12)}${'speed-up (cold)'.padStart(18)}\n`,
);
for (const [label, bundle, cold, warm] of rows) {
  process.stdout.write(
    `${label.padEnd(24)}${bundle.toFixed(0).padStart(14)}${cold.toFixed(0).padStart(12)}${warm.toFixed(0).padStart(12)}${`${(cold / bundle).toFixed(1)}x`.padStart(18)}\n`,
  );
}
