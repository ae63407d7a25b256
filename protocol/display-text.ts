/**
 * Untrusted text shown to a human: on a terminal (stdout, stderr) or in a log line. Header
 * strings, worker messages, repository text and file names may carry terminal escape sequences
 * (ECMA-48 CSI/OSC introduced by ESC or by the C1 controls 0x9b/0x9d), line breaks that forge
 * whole output lines, bidirectional overrides and isolates that reorder what is shown (Unicode
 * TR#9; CVE-2021-42574) and invisible characters that hide text. Every such line goes through
 * one of the two functions here, and nothing else decides what reaches a person.
 *
 * Each dangerous character becomes a visible escape: `\n`, `\r`, `\t`, `\xNN` for the other C0
 * and C1 controls and DEL, `\uNNNN` (`\u{NNNNN}` beyond the BMP) for format characters, line
 * and paragraph separators, invisible fillers and unpaired surrogates. Printable text, including
 * non-ASCII letters, passes unchanged, so ordinary output stays byte-identical.
 */

/** Longest line (in UTF-16 code units of the escaped text) before it is cut and marked. */
export const MAX_DISPLAY_LINE_LENGTH = 4096;

/** Appended to a line that was cut at its maximum length. */
export const TRUNCATION_MARKER = '...[truncated]';

/**
 * C0 and C1 controls and DEL (Cc), format characters (Cf: bidi embeddings, overrides, isolates
 * and marks, zero-width space/joiners, word joiner, BOM, soft hyphen, tag characters), unpaired
 * surrogates (Cs), line and paragraph separators (Zl, Zp), and the Hangul fillers, which are
 * letters that render as nothing.
 */
const UNSAFE_CHARS = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/gu;
/** The same, and the two characters a quoted line escapes. */
const UNSAFE_OR_QUOTE_CHARS = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0"\\]/gu;

const NAMED_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['\n', '\\n'],
  ['\r', '\\r'],
  ['\t', '\\t'],
]);

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** The visible form of one code point matched by UNSAFE_OR_QUOTE_CHARS. */
function escapeCodePoint(ch: string): string {
  if (ch === '\\' || ch === '"') return '\\' + ch;
  const named = NAMED_ESCAPES.get(ch);
  if (named !== undefined) return named;
  const cp = ch.codePointAt(0)!;
  if (cp <= 0x9f) return `\\x${hex(cp, 2)}`;
  if (cp <= 0xffff) return `\\u${hex(cp, 4)}`;
  return `\\u{${hex(cp, 5)}}`;
}

/** The escaped text, and whether it had to be cut to fit `max`. */
function escapeText(text: string, max: number, quote: boolean): { body: string; cut: boolean } {
  const pattern = quote ? UNSAFE_OR_QUOTE_CHARS : UNSAFE_CHARS;
  pattern.lastIndex = 0;
  if (text.length <= max && !pattern.test(text)) return { body: text, cut: false };
  let body = '';
  let from = 0;
  /** Appends printable text, as much as fits; false once it did not all fit. */
  const plain = (end: number): boolean => {
    const room = max - body.length;
    if (end - from <= room) {
      body += text.slice(from, end);
      return true;
    }
    let stop = from + room;
    // never split a surrogate pair (a lone high surrogate would have matched the pattern)
    const last = text.charCodeAt(stop - 1);
    if (stop > from && last >= 0xd800 && last <= 0xdbff) stop -= 1;
    body += text.slice(from, stop);
    return false;
  };
  pattern.lastIndex = 0;
  // Each match is one code point (the u flag keeps surrogate pairs whole, unpaired halves alone).
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (!plain(m.index)) return { body, cut: true };
    const escaped = escapeCodePoint(m[0]);
    if (body.length + escaped.length > max) return { body, cut: true };
    body += escaped;
    from = m.index + m[0].length;
  }
  return plain(text.length) ? { body, cut: false } : { body, cut: true };
}

/**
 * One line of untrusted text for a human: no control, format or separator character survives
 * (each is shown as its escape), and at most `max` code units are kept, followed by
 * TRUNCATION_MARKER when the text was longer. Backslashes are kept as they are.
 */
export function displayLine(text: string, max: number = MAX_DISPLAY_LINE_LENGTH): string {
  const { body, cut } = escapeText(text, max, false);
  return cut ? body + TRUNCATION_MARKER : body;
}

/**
 * Untrusted text as one double-quoted line, for text that is someone else's words (a worker's
 * error message, a VM's output): escaped as displayLine does, with '\' and '"' escaped too, so
 * the quoted part cannot end early and for printable ASCII it reads as a JSON string. A cut line
 * closes its quote before TRUNCATION_MARKER.
 */
export function quotedLine(text: string, max: number = MAX_DISPLAY_LINE_LENGTH): string {
  const { body, cut } = escapeText(text, max, true);
  return `"${body}"${cut ? TRUNCATION_MARKER : ''}`;
}
