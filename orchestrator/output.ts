/** Output helpers: tables as qvm-template prints them (`column -t`), and terminal-safe text. */

/** Control characters and escape sequences never reach a terminal. */
export function safe(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '?');
}

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

/** Repository warnings as `tmpl: warning [code]: message` lines for stderr. */
export function formatWarnings(warnings: readonly { code: string; message: string }[]): string {
  return warnings.map((w) => `tmpl: warning [${w.code}]: ${safe(w.message)}\n`).join('');
}
