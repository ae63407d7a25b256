/**
 * INI files as dnf reads .repo files (libdnf's utils/iniparser and conf/ConfigParser):
 *
 * - a comment is a line whose FIRST character is '#' or ';' (an indented '#' is not a comment);
 * - blank lines (spaces, tabs, CR) are skipped and do not end a value;
 * - `[section]`, possibly indented; after ']' only whitespace or a '#'/';' comment;
 * - `key=value` starts in column 0; spaces and tabs around '=' are dropped, the value is trimmed;
 * - an indented line continues the previous value, joined with '\n' (how baseurl and gpgkey
 *   lists span lines);
 * - keys are case-sensitive; a later key overrides an earlier one in the same section.
 *
 * Unlike libdnf, which silently merges a repeated section, a repeated section is an error here.
 */
import { ParseError } from '../../protocol/index.ts';
import type { IniErrorCode } from '../../protocol/error-codes.ts';
export type { IniErrorCode };

/** Largest .repo file read; Qubes' own is under 2 KiB. */
export const MAX_INI_FILE_BYTES = 256 * 1024;
/** Most sections in one file. */
export const MAX_INI_SECTIONS = 256;

export interface IniSection {
  readonly name: string;
  /** Byte offset of the section header line. */
  readonly offset: number;
  readonly values: Map<string, string>;
}

const isBlank = (c: string): boolean => c === ' ' || c === '\t' || c === '\r';

function firstNonBlank(line: string): number {
  for (let i = 0; i < line.length; i++) if (!isBlank(line[i]!)) return i;
  return -1;
}

function lastNonBlank(line: string): number {
  for (let i = line.length - 1; i >= 0; i--) if (!isBlank(line[i]!)) return i;
  return -1;
}

/** Parses INI bytes; sections in file order. Throws ParseError ('repo-config.*'). */
export function parseIni(bytes: Uint8Array): IniSection[] {
  if (bytes.length > MAX_INI_FILE_BYTES) {
    throw new ParseError(
      'repo-config.too-large',
      `file larger than ${MAX_INI_FILE_BYTES} bytes`,
      MAX_INI_FILE_BYTES,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (cause) {
    throw new ParseError('repo-config.encoding', 'file is not valid UTF-8', 0, { cause });
  }
  const sections: IniSection[] = [];
  const byName = new Map<string, IniSection>();
  let current: IniSection | undefined;
  let key: string | undefined;
  let offset = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (const line of text.split('\n')) {
    const lineOffset = offset;
    offset += Buffer.byteLength(line) + 1;
    if (line[0] === '#' || line[0] === ';') continue;
    const start = firstNonBlank(line);
    if (start === -1) continue;
    const end = lastNonBlank(line);
    if (line[start] === '[') {
      const close = line.indexOf(']', start + 1);
      if (close === -1) throw new ParseError('repo-config.missing-bracket', "missing ']'", lineOffset);
      if (close === start + 1)
        throw new ParseError('repo-config.empty-section', 'empty section name', lineOffset);
      // libdnf checks the characters between ']' and the last non-blank one, exclusive.
      for (let i = close + 1; i < end; i++) {
        const c = line[i]!;
        if (c === '#' || c === ';') break;
        if (!isBlank(c))
          throw new ParseError('repo-config.text-after-section', 'text after section', lineOffset);
      }
      const name = line.slice(start + 1, close);
      if (byName.has(name)) {
        throw new ParseError('repo-config.duplicate-section', `section [${name}] appears twice`, lineOffset);
      }
      if (sections.length >= MAX_INI_SECTIONS) {
        throw new ParseError(
          'repo-config.too-many-sections',
          `more than ${MAX_INI_SECTIONS} sections`,
          lineOffset,
        );
      }
      current = { name, offset: lineOffset, values: new Map() };
      sections.push(current);
      byName.set(name, current);
      key = undefined;
      continue;
    }
    if (current === undefined)
      throw new ParseError('repo-config.missing-section', 'key before any section', lineOffset);
    if (start > 0) {
      if (key === undefined)
        throw new ParseError('repo-config.continuation', 'continuation line without a key', lineOffset);
      current.values.set(key, `${current.values.get(key) ?? ''}\n${line.slice(start, end + 1)}`);
      continue;
    }
    if (line[0] === '=') throw new ParseError('repo-config.missing-key', 'line starts with =', lineOffset);
    const eq = line.indexOf('=');
    if (eq === -1) throw new ParseError('repo-config.missing-equal', "missing '='", lineOffset);
    let keyEnd = eq - 1;
    while (keyEnd >= 0 && (line[keyEnd] === ' ' || line[keyEnd] === '\t')) keyEnd--;
    let valueStart = eq + 1;
    while (valueStart < line.length && (line[valueStart] === ' ' || line[valueStart] === '\t')) valueStart++;
    key = line.slice(0, keyEnd + 1);
    current.values.set(
      key,
      valueStart < line.length && valueStart <= end ? line.slice(valueStart, end + 1) : '',
    );
  }
  return sections;
}
