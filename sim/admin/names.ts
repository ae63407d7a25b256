/**
 * Name and value rules of qubes-core-admin: VM names (qubes/vm/__init__.py validate_name),
 * label names (qubes/utils.py validate_label_name), tags (qubes.vm.Tags.validate_tag),
 * numbers (AbstractQubesAPI.validate_number) and property value parsing (qubes.property).
 */
import { exc, pyRepr } from './errors.ts';

/** validate_name: 31 characters at most. */
export const MAX_VM_NAME_LENGTH = 31;
/** validate_number: 19 decimal digits at most. */
export const MAX_NUMBER_DIGITS = 19;

export function isAscii(bytes: Uint8Array): boolean {
  return bytes.every((b) => b < 0x80);
}

export function ascii(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}

export function validateVmName(value: string): void {
  if (value.length > MAX_VM_NAME_LENGTH) throw exc.value('VM name must be shorter than 32 characters');
  if (/^[0-9_.-]/.test(value))
    throw exc.value('VM name cannot start with hyphen, underscore, dot or numbers');
  if (!/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(value)) throw exc.value('VM name contains illegal characters');
  if (value === 'Domain-0') throw exc.value("VM name cannot be 'Domain-0'");
  if (value === 'none' || value === 'default') throw exc.value("VM name cannot be 'none' nor 'default'");
  if (value.endsWith('-dm')) throw exc.value('VM name cannot end with -dm');
}

const LABEL_SAFE = /^[A-Za-z0-9_.-]+$/;

export function validateLabelName(value: string, creation: boolean): void {
  if (!value) throw exc.protocolAs('QubesInvalidLabelError', 'Label name must be set');
  if (creation && /^\d+$/.test(value))
    throw exc.protocolAs('QubesInvalidLabelError', 'Label must not be a digit');
  if (!LABEL_SAFE.test(value))
    throw exc.protocolAs(
      'QubesInvalidLabelError',
      'Label must be in safe set: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.',
    );
}

export function validateTag(tag: string): void {
  if (!tag) throw exc.protocolAs('QubesInvalidTagError', 'tag cannot be empty');
  if (!/^[A-Za-z0-9_-]+$/.test(tag)) throw exc.protocolAs('QubesInvalidTagError', 'disallowed characters');
}

/** AbstractQubesAPI.validate_number: `name` is capitalised as Python's str.capitalize does. */
export function validateNumber(untrusted: Uint8Array, name: string, allowNegative = false): number {
  let digits = ascii(untrusted);
  let sign = 1;
  if (allowNegative && digits.startsWith('-')) {
    sign = -1;
    digits = digits.slice(1);
  }
  const cap = name.charAt(0).toUpperCase() + name.slice(1).toLowerCase();
  if (!/^[0-9]+$/.test(digits)) throw exc.protocol(`${cap} contains non ASCII digits`);
  if (digits.length > MAX_NUMBER_DIGITS) throw exc.protocol(`${cap} is bigger than 19 decimal digits`);
  if (digits.startsWith('0') && digits !== '0') throw exc.protocol(`${cap} contains spurious leading zeros`);
  return sign * Number(digits);
}

/** qubes.property.bool: the spellings Qubes accepts, case-insensitively. */
export function parseQubesBool(value: string): boolean {
  const lc = value.toLowerCase();
  if (['0', 'no', 'false', 'off'].includes(lc)) return false;
  if (['1', 'yes', 'true', 'on'].includes(lc)) return true;
  throw exc.value(`Invalid literal for boolean property: ${pyRepr(value)}`);
}

/** Python int(str): surrounding whitespace, a sign, and underscores between digits. */
export function parsePythonInt(value: string): number | null {
  const m = /^[\s]*([+-]?)(\d+(?:_\d+)*)[\s]*$/.exec(value);
  if (!m) return null;
  const n = Number((m[2] ?? '').replaceAll('_', ''));
  if (!Number.isSafeInteger(n)) return null;
  return m[1] === '-' ? -n : n;
}

/** Python's string.printable. */
export function isPrintable(value: string): boolean {
  return /^[\x20-\x7e\t\n\r\x0b\x0c]*$/.test(value);
}
