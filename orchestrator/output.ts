/** Output helpers: tables as qvm-template prints them (`column -t`). */

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
