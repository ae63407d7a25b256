/**
 * POSIX pax extended header records (POSIX.1-2017, pax "Extended Header Records"):
 * `"%d %s=%s\n", <length>, <keyword>, <value>` where length counts the whole record.
 *
 * The parser is strict: canonical decimal lengths, no empty keywords, printable ASCII keywords,
 * a newline exactly where the length says, and no bytes left over.
 */
import { ParseError, type ErrorCode } from './errors.ts';

export interface PaxRecord {
  readonly keyword: string;
  readonly value: Uint8Array;
  /** Absolute byte offset of the record. */
  readonly offset: number;
}

/** Longest decimal length prefix accepted (a record can never exceed the bounded header). */
const MAX_LENGTH_DIGITS = 8;

const SPACE = 0x20;
const EQUALS = 0x3d;
const NEWLINE = 0x0a;

export function parsePaxRecords(data: Uint8Array, baseOffset: number): PaxRecord[] {
  const records: PaxRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    const recordOffset = baseOffset + pos;
    let length = 0;
    let digits = 0;
    let i = pos;
    for (; i < data.length && digits <= MAX_LENGTH_DIGITS; i++) {
      const c = data[i] ?? 0;
      if (c < 0x30 || c > 0x39) break;
      if (digits === 1 && length === 0) {
        throw new ParseError('sparse.pax-record', 'pax record length with a leading zero', recordOffset);
      }
      length = length * 10 + (c - 0x30);
      digits++;
    }
    if (digits === 0 || digits > MAX_LENGTH_DIGITS || data[i] !== SPACE) {
      throw new ParseError('sparse.pax-record', 'pax record does not start with "LENGTH "', recordOffset);
    }
    const end = pos + length;
    if (length <= digits + 1 || end > data.length) {
      throw new ParseError('sparse.pax-record', 'pax record length out of range', recordOffset);
    }
    if (data[end - 1] !== NEWLINE) {
      throw new ParseError(
        'sparse.pax-record',
        'pax record does not end with a newline',
        baseOffset + end - 1,
      );
    }
    const body = data.subarray(i + 1, end - 1);
    const equals = body.indexOf(EQUALS);
    if (equals <= 0) {
      throw new ParseError('sparse.pax-record', 'pax record without "KEYWORD="', recordOffset);
    }
    let keyword = '';
    for (let k = 0; k < equals; k++) {
      const c = body[k] ?? 0;
      if (c <= SPACE || c >= 0x7f) {
        throw new ParseError('sparse.pax-record', 'pax keyword is not printable ASCII', recordOffset);
      }
      keyword += String.fromCharCode(c);
    }
    records.push({ keyword, value: body.subarray(equals + 1), offset: recordOffset });
    pos = end;
  }
  return records;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A pax value as text (pax values are UTF-8). */
export function paxText(record: PaxRecord): string {
  try {
    return utf8.decode(record.value);
  } catch (cause) {
    throw new ParseError('sparse.pax-value', `pax ${record.keyword} is not UTF-8`, record.offset, { cause });
  }
}

/** Canonical unsigned decimal: digits only, no leading zero, at most `max`. */
export function parseDecimal(text: string, max: number, code: ErrorCode, offset: number): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) {
    throw new ParseError(
      code,
      `not a canonical decimal number: ${JSON.stringify(text.slice(0, 24))}`,
      offset,
    );
  }
  const value = Number(text);
  if (value > max) {
    throw new ParseError('sparse.size-limit', `number ${text} exceeds ${max}`, offset);
  }
  return value;
}
