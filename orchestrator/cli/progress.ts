/**
 * Progress for people and for programs: a one-line bar on a terminal (stderr), or with
 * --progress=json one JSON object per line on stdout, e.g.
 *   {"event":"progress","template":"fedora-41","stage":"verify","done":1048576,"total":6291456}
 */
import type { Writable } from 'node:stream';

export type ProgressMode = 'bar' | 'json' | 'none';

export type ProgressSink = (template: string, stage: string, done: number, total: number | undefined) => void;

/** Redraws at most this often, and JSON events at most this often per stage. */
const MIN_INTERVAL_MS = 200;

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

export function progressSink(
  mode: ProgressMode,
  stdout: Writable,
  stderr: Writable,
): ProgressSink | undefined {
  if (mode === 'none') return undefined;
  let last = 0;
  let lastStage = '';
  return (template, stage, done, total) => {
    const now = Date.now();
    const finished = total !== undefined && done >= total;
    if (stage === lastStage && now - last < MIN_INTERVAL_MS && !finished) return;
    last = now;
    lastStage = stage;
    if (mode === 'json') {
      stdout.write(
        JSON.stringify({
          event: 'progress',
          template,
          stage,
          done,
          ...(total !== undefined ? { total } : {}),
        }) + '\n',
      );
      return;
    }
    const width = 30;
    const fraction = total ? Math.min(1, done / total) : 0;
    const bar = total ? '#'.repeat(Math.round(fraction * width)).padEnd(width, '.') : ''.padEnd(width, '?');
    stderr.write(
      `\r${template} ${stage.padEnd(9)} [${bar}] ${mib(done)}${total ? ` / ${mib(total)}` : ''}   `,
    );
    if (finished) stderr.write('\n');
  };
}

export function progressMode(requested: string | undefined, isTerminal: boolean): ProgressMode {
  if (requested === 'bar' || requested === 'json' || requested === 'none') return requested;
  return isTerminal ? 'bar' : 'none';
}
