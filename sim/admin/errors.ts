/**
 * Errors of the simulated qubesd.
 *
 * `QubesApiError` is an exception qubesd reports to its client as
 * `2\0Type\0\0message\0`: `type` is the Python class name from qubes/exc.py (the wire carries
 * `type(exc).__name__`), `message` is `str(exc)` worded as qubes-core-admin words it.
 * `UnhandledServerError` stands for a Python exception qubesd does not catch (a bare KeyError,
 * an AssertionError): qubesd then aborts the connection and the client reads an empty reply.
 */
import { TmplError } from '../../protocol/errors.ts';
import type { SimAdminErrorCode } from '../../protocol/error-codes.ts';
export type { SimAdminErrorCode };

export class QubesApiError extends TmplError {
  readonly excType: string;

  constructor(excType: string, message: string) {
    super('sim.admin.qubes-exception' satisfies SimAdminErrorCode, message);
    this.excType = excType;
  }
}

export class UnhandledServerError extends TmplError {
  constructor(message: string) {
    super('sim.admin.unhandled' satisfies SimAdminErrorCode, message);
  }
}

/** The state directory holds something this daemon did not write. */
export class SimStateError extends TmplError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('sim.admin.state' satisfies SimAdminErrorCode, message, options);
  }
}

/** Python's repr() of a str, as the messages in qubes/exc.py render names with `{!r}`. */
export function pyRepr(value: string): string {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

export const exc = {
  protocol: (message: string) => new QubesApiError('ProtocolError', message),
  /** A ProtocolError subclass such as QubesInvalidLabelError: the wire carries its own name. */
  protocolAs: (excType: string, message: string) => new QubesApiError(excType, message),
  permission: (message: string) => new QubesApiError('PermissionDenied', message),
  generic: (message: string) => new QubesApiError('QubesException', message),
  value: (message: string) => new QubesApiError('QubesValueError', message),
  propertyValue: (message: string) => new QubesApiError('QubesPropertyValueError', message),
  vmNotFound: (name: string) => new QubesApiError('QubesVMNotFoundError', `No such domain: ${pyRepr(name)}`),
  vmAlreadyExists: (name: string) =>
    new QubesApiError('QubesVMAlreadyExistsError', `Qube already exists: ${name}`),
  vmInUse: (name: string, message?: string) =>
    new QubesApiError('QubesVMInUseError', message ?? `Domain is in use: ${pyRepr(name)}`),
  vmNotHalted: (name: string, message?: string) =>
    new QubesApiError('QubesVMNotHaltedError', message ?? `Domain is not powered off: ${pyRepr(name)}`),
  vmNotStarted: (name: string, message?: string) =>
    new QubesApiError('QubesVMNotStartedError', message ?? `Domain is powered off: ${pyRepr(name)}`),
  vmNotRunning: (name: string) =>
    new QubesApiError(
      'QubesVMNotRunningError',
      `Domain not running (either powered off or paused): ${pyRepr(name)}`,
    ),
  vmNotPaused: (name: string) =>
    new QubesApiError('QubesVMNotPausedError', `Domain is not paused: ${pyRepr(name)}`),
  noSuchProperty: (holder: string, prop: string) =>
    new QubesApiError('QubesNoSuchPropertyError', `Invalid property ${pyRepr(prop)} of ${holder}`),
  featureNotFound: (vm: string, feature: string) =>
    new QubesApiError('QubesFeatureNotFoundError', `Feature not set for domain ${vm}: ${feature}`),
  tagNotFound: (vm: string, tag: string) =>
    new QubesApiError('QubesTagNotFoundError', `Tag not set for domain ${vm}: ${tag}`),
  labelNotFound: (label: string) =>
    new QubesApiError('QubesLabelNotFoundError', `Label does not exist: ${label}`),
  storage: (message: string) => new QubesApiError('StoragePoolException', message),
};
