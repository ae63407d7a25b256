/**
 * RPM version labels: "[EPOCH:]VERSION[-RELEASE]" and their ordering.
 *
 * The ordering is rpm's (rpmio/rpmvercmp.c, and python-rpm's labelCompare that qvm-template
 * uses to pick a template version): the epoch first, then the version, then the release, each
 * compared segment by segment.
 */
import { ParseError } from './errors.ts';
import { MAX_EPOCH, MAX_VERSION_LENGTH } from './limits.ts';
import type { EvrErrorCode } from './error-codes.ts';
export type { EvrErrorCode };

export { MAX_EPOCH };

/**
 * Longest EVR string accepted (epoch, colon, version, dash and release together); version and
 * release are each bounded by MAX_VERSION_LENGTH (protocol/limits.ts), as in worker messages.
 */
export const MAX_EVR_LENGTH = 512;
/** More digits than this cannot be a real epoch (MAX_EPOCH, 4294967295, has 10). */
export const MAX_EPOCH_DIGITS = 10;

export interface Evr {
  readonly epoch: number;
  readonly version: string;
  /** '' when the label had no release. */
  readonly release: string;
}

/**
 * Characters rpm accepts in VERSION and RELEASE: alphanumerics, the separators '.', '_', '+', and
 * '~' / '^' which have ordering meaning. '-' separates version from release and ':' ends the epoch.
 */
const SEGMENT_CHARSET = /^[A-Za-z0-9._+~^]*$/;

export function parseEvr(s: string): Evr {
  if (s.length === 0) throw new ParseError('evr.empty', 'empty version label', 0);
  if (s.length > MAX_EVR_LENGTH) {
    throw new ParseError('evr.too-long', `version label longer than ${MAX_EVR_LENGTH}`, MAX_EVR_LENGTH);
  }
  let epoch = 0;
  let rest = s;
  let offset = 0;
  const colon = s.indexOf(':');
  if (colon !== -1) {
    const epochText = s.slice(0, colon);
    if (!/^[0-9]*$/.test(epochText)) throw new ParseError('evr.epoch', 'epoch is not decimal digits', 0);
    if (epochText.length > MAX_EPOCH_DIGITS) {
      throw new ParseError('evr.epoch-range', `epoch longer than ${MAX_EPOCH_DIGITS} digits`, 0);
    }
    epoch = epochText === '' ? 0 : Number(epochText);
    if (epoch > MAX_EPOCH) throw new ParseError('evr.epoch-range', `epoch above ${MAX_EPOCH}`, 0);
    rest = s.slice(colon + 1);
    offset = colon + 1;
  }
  const dash = rest.indexOf('-');
  const version = dash === -1 ? rest : rest.slice(0, dash);
  const release = dash === -1 ? '' : rest.slice(dash + 1);
  checkSegment(version, 'evr.version', 'version', MAX_VERSION_LENGTH, offset);
  if (dash !== -1) checkSegment(release, 'evr.release', 'release', MAX_VERSION_LENGTH, offset + dash + 1);
  return { epoch, version, release };
}

function checkSegment(value: string, code: EvrErrorCode, what: string, max: number, offset: number): void {
  if (value.length === 0) throw new ParseError(code, `empty ${what}`, offset);
  if (value.length > max) throw new ParseError('evr.too-long', `${what} longer than ${max}`, offset);
  if (!SEGMENT_CHARSET.test(value)) {
    const bad = [...value].findIndex((c) => !SEGMENT_CHARSET.test(c));
    throw new ParseError('evr.charset', `invalid character in ${what}`, offset + Math.max(bad, 0));
  }
}

/** "E:V-R" as qvm-template prints it (epoch always shown). */
export function formatEvr(evr: Evr): string {
  return `${evr.epoch}:${evr.version}${evr.release === '' ? '' : `-${evr.release}`}`;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const TILDE = 0x7e;
const CARET = 0x5e;

/**
 * rpm's segment comparison (rpmvercmp): skip separators, '~' sorts before anything (even the
 * end of the string), '^' sorts after the end but before any other segment, numeric segments
 * compare as numbers with leading zeros ignored and beat alphabetic ones, alphabetic segments
 * compare bytewise; if everything compared equal, the string with something left wins.
 */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const at = (s: string, k: number): number => (k < s.length ? s.charCodeAt(k) : 0);
  const isSep = (c: number): boolean => c !== 0 && !isDigit(c) && !isAlpha(c) && c !== TILDE && c !== CARET;
  while (i < a.length || j < b.length) {
    while (isSep(at(a, i))) i++;
    while (isSep(at(b, j))) j++;
    const ca = at(a, i);
    const cb = at(b, j);
    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      if (ca === 0) return -1;
      if (cb === 0) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === 0 || cb === 0) break;
    const numeric = isDigit(ca);
    const inSegment = numeric ? isDigit : isAlpha;
    let ei = i;
    while (ei < a.length && inSegment(a.charCodeAt(ei))) ei++;
    let ej = j;
    while (ej < b.length && inSegment(b.charCodeAt(ej))) ej++;
    // a's segment is never empty here; b's is empty when its segment is of the other kind.
    if (ej === j) return numeric ? 1 : -1;
    let sa = a.slice(i, ei);
    let sb = b.slice(j, ej);
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ei;
    j = ej;
  }
  const endA = i >= a.length;
  const endB = j >= b.length;
  if (endA && endB) return 0;
  return endA ? -1 : 1;
}

/** Orders two parsed labels as rpm.labelCompare does: epoch numerically, then version, then release. */
export function compareEvrParts(a: Evr, b: Evr): -1 | 0 | 1 {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  const v = rpmvercmp(a.version, b.version);
  if (v !== 0) return v;
  return rpmvercmp(a.release, b.release);
}

/** Orders two "[E:]V[-R]" strings; throws ParseError ('evr.*') if either is malformed. */
export function compareEvr(a: string, b: string): -1 | 0 | 1 {
  return compareEvrParts(parseEvr(a), parseEvr(b));
}
