import { prng } from '../helpers/mutate.ts';
import { describe, expect, it } from 'vitest';
import {
  displayLine,
  MAX_DISPLAY_LINE_LENGTH,
  quotedLine,
  TRUNCATION_MARKER,
} from '../../protocol/display-text.ts';

/** Whether a terminal would see anything but printable text (the property both functions keep). */
const DANGEROUS = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** A plain reference: one code point at a time, stop before the first piece that does not fit. */
function reference(text: string, max: number, quote: boolean): string {
  let body = '';
  for (const ch of text) {
    let piece = ch;
    if (quote && (ch === '\\' || ch === '"')) piece = '\\' + ch;
    else if (ch === '\n') piece = '\\n';
    else if (ch === '\r') piece = '\\r';
    else if (ch === '\t') piece = '\\t';
    else if (/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/u.test(ch)) {
      const cp = ch.codePointAt(0)!;
      piece =
        cp <= 0x9f
          ? `\\x${cp.toString(16).padStart(2, '0')}`
          : cp <= 0xffff
            ? `\\u${cp.toString(16).padStart(4, '0')}`
            : `\\u{${cp.toString(16)}}`;
    }
    if (body.length + piece.length > max)
      return quote ? `"${body}"${TRUNCATION_MARKER}` : body + TRUNCATION_MARKER;
    body += piece;
  }
  return quote ? `"${body}"` : body;
}

/** Code units drawn mostly from the dangerous classes, with letters, quotes and pairs between. */
const ALPHABET = [
  'a',
  'Z',
  ' ',
  '"',
  '\\',
  'é',
  '\x1b',
  '[',
  '\x9b',
  '\x7f',
  '\n',
  '\r',
  '\t',
  '\u202e',
  '\u2066',
  '\u200b',
  '\u2028',
  '\ufeff',
  '\ud83d',
  '\ude42',
  '\ud800',
  '\u3164',
  '\udb40',
  '\udc41',
];

describe('displayLine', () => {
  it('leaves printable ASCII and non-ASCII letters unchanged', () => {
    expect(displayLine("Template 'fedora-42' : A | b \\ c")).toBe("Template 'fedora-42' : A | b \\ c");
    expect(displayLine('Grüße, Ελληνικά, 日本語, 🙂')).toBe('Grüße, Ελληνικά, 日本語, 🙂');
    expect(displayLine('')).toBe('');
  });

  it('shows ESC sequences (CSI, OSC, single-character) as \\x1b', () => {
    expect(displayLine('\x1b[2Jcleared')).toBe('\\x1b[2Jcleared');
    expect(displayLine('a\x1b[31mred\x1b[0m')).toBe('a\\x1b[31mred\\x1b[0m');
    expect(displayLine('\x1b]0;title\x07')).toBe('\\x1b]0;title\\x07');
    expect(displayLine('\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\')).toBe(
      '\\x1b]8;;http://evil\\x1b\\link\\x1b]8;;\\x1b\\',
    );
    expect(displayLine('\x1bc')).toBe('\\x1bc');
  });

  it('shows every C0 control and DEL as \\xNN, with LF, CR and TAB named', () => {
    expect(displayLine('\x00\x01\x08\x0b\x0c\x1f\x7f')).toBe('\\x00\\x01\\x08\\x0b\\x0c\\x1f\\x7f');
    expect(displayLine("a\nTemplate 'x' installed: y")).toBe("a\\nTemplate 'x' installed: y");
    expect(displayLine('a\r\nb')).toBe('a\\r\\nb');
    expect(displayLine('over\rwrite')).toBe('over\\rwrite');
    expect(displayLine('a\tb')).toBe('a\\tb');
    for (let c = 0; c < 0x20; c++) expect(displayLine(String.fromCharCode(c))).toMatch(/^\\[xnrt]/);
  });

  it('shows C1 controls 0x80-0x9f (8-bit CSI 0x9b, OSC 0x9d) as \\xNN', () => {
    expect(displayLine('\x9b2J\x9d0;t\x9c')).toBe('\\x9b2J\\x9d0;t\\x9c');
    expect(displayLine('\x80\x85\x9f')).toBe('\\x80\\x85\\x9f');
    for (let c = 0x80; c <= 0x9f; c++)
      expect(displayLine(String.fromCharCode(c))).toBe(`\\x${c.toString(16)}`);
  });

  it('shows bidi embeddings, overrides and isolates as \\uNNNN', () => {
    expect(displayLine('a\u202ab\u202bc\u202cd\u202de\u202ef')).toBe(
      'a\\u202ab\\u202bc\\u202cd\\u202de\\u202ef',
    );
    expect(displayLine('\u2066x\u2067y\u2068z\u2069')).toBe('\\u2066x\\u2067y\\u2068z\\u2069');
    expect(displayLine('\u200e\u200f\u061c')).toBe('\\u200e\\u200f\\u061c');
  });

  it('shows zero-width and other invisible characters', () => {
    expect(displayLine('pay\u200bpal\u200c\u200d\u2060\ufeff')).toBe(
      'pay\\u200bpal\\u200c\\u200d\\u2060\\ufeff',
    );
    expect(displayLine('soft\u00adhyphen')).toBe('soft\\u00adhyphen');
    expect(displayLine('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c');
    expect(displayLine('\u3164\u115f\u1160\uffa0')).toBe('\\u3164\\u115f\\u1160\\uffa0');
    // a tag character (beyond the BMP, Cf)
    expect(displayLine('x\u{e0041}')).toBe('x\\u{e0041}');
  });

  it('shows unpaired surrogates and keeps surrogate pairs', () => {
    expect(displayLine('a\ud800b')).toBe('a\\ud800b');
    expect(displayLine('a\udc00')).toBe('a\\udc00');
    expect(displayLine('\udc00\ud800')).toBe('\\udc00\\ud800');
    expect(displayLine('\ud83d\ude42')).toBe('🙂');
  });

  it('cuts long text at the maximum and marks it, never inside an escape or a pair', () => {
    expect(displayLine('abcdef', 4)).toBe('abcd' + TRUNCATION_MARKER);
    expect(displayLine('abcd', 4)).toBe('abcd');
    expect(displayLine('ab\x1bcd', 4)).toBe('ab' + TRUNCATION_MARKER);
    expect(displayLine('abc🙂', 4)).toBe('abc' + TRUNCATION_MARKER);
    const long = displayLine('x'.repeat(1_000_000));
    expect(long).toBe('x'.repeat(MAX_DISPLAY_LINE_LENGTH) + TRUNCATION_MARKER);
  });

  it('never lets a dangerous character through (every code point of the BMP, and pairs)', () => {
    let all = '';
    for (let c = 0; c <= 0xffff; c++) all += String.fromCharCode(c);
    const out = displayLine(all, 10 * all.length);
    expect(DANGEROUS.test(out)).toBe(false);
    expect(out).not.toContain(TRUNCATION_MARKER);
  });
});

describe('displayLine and quotedLine against a one-code-point-at-a-time reference', () => {
  it('agree on 20000 generated strings and maxima', () => {
    const random = prng(8);
    for (let n = 0; n < 20_000; n++) {
      let text = '';
      const length = Math.floor(random() * 24);
      for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)]!;
      const max = Math.floor(random() * 40);
      expect(displayLine(text, max), JSON.stringify([text, max])).toBe(reference(text, max, false));
      expect(quotedLine(text, max), JSON.stringify([text, max])).toBe(reference(text, max, true));
    }
  });
});

describe('quotedLine', () => {
  it('quotes printable ASCII as JSON does', () => {
    for (const s of ['', 'plain', 'with "quotes" and \\backslash\\', "it's"])
      expect(quotedLine(s)).toBe(JSON.stringify(s));
  });

  it('keeps a forged line inside one quoted line', () => {
    const forged = "download failed\nTemplate 'x' installed: qubes-template-x-1-1 from evil\x1b[2J";
    const out = quotedLine(forged);
    expect(out).toBe('"download failed\\nTemplate \'x\' installed: qubes-template-x-1-1 from evil\\x1b[2J"');
    expect(out.split('\n')).toHaveLength(1);
  });

  it('cannot be closed early by a quote or a trailing backslash', () => {
    expect(quotedLine('a" then "b')).toBe('"a\\" then \\"b"');
    expect(quotedLine('ends with \\')).toBe('"ends with \\\\"');
  });

  it('escapes every dangerous class as displayLine does', () => {
    expect(quotedLine('\x1b[2J\x9b\x7f\r\t\u202e\u2066\u200b\ud800')).toBe(
      '"\\x1b[2J\\x9b\\x7f\\r\\t\\u202e\\u2066\\u200b\\ud800"',
    );
  });

  it('closes the quote before the truncation marker', () => {
    expect(quotedLine('abcdef', 3)).toBe('"abc"' + TRUNCATION_MARKER);
    expect(quotedLine('ab"c', 3)).toBe('"ab"' + TRUNCATION_MARKER);
  });
});
