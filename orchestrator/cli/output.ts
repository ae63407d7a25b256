/** Output helpers: tables as qvm-template prints them (`column -t`), and warnings. */
import type { Writable } from 'node:stream';
import { displayLine, quotedLine } from '../../protocol/display-text.ts';
import type { QueryWarning } from '../../protocol/messages.ts';

/** Like `column -t -s US`: columns left-aligned, separated by two spaces, the last unpadded. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length + 2),
        )
        // column -t keeps the padding before an empty or blank last cell: so do we
        .join(''),
    )
    .map((line) => line + '\n')
    .join('');
}

/**
 * The worker's warnings (repository entries it skipped) as stderr lines: the stable code, the
 * repository, and the worker's text as one quoted line. With --json they go into the JSON
 * object instead.
 */
export function reportQueryWarnings(
  stderr: Writable,
  json: boolean,
  warnings: readonly QueryWarning[],
): void {
  if (json) return;
  for (const w of warnings) {
    stderr.write(
      `tmpl: warning [${displayLine(w.code)}]: repository ${displayLine(w.repoid)}: ${quotedLine(w.message)}\n`,
    );
  }
}
