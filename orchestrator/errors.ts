/**
 * Orchestrator error classes. Each carries a stable code; the CLI maps codes to exit codes and
 * `--json` error objects.
 */
import { TmplError, VerificationError } from '../protocol/errors.ts';
import type { OrchestratorErrorCode, PackageCheckErrorCode } from '../protocol/error-codes.ts';
export type { OrchestratorErrorCode, PackageCheckErrorCode };

/** The VerificationError of a layout refusal, its code checked against the union. */
export function layoutError(code: PackageCheckErrorCode, message: string): VerificationError {
  return new VerificationError(code, message);
}

export class OrchestratorError extends TmplError {
  declare readonly code: OrchestratorErrorCode;

  constructor(code: OrchestratorErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * An exception reported by qubesd (`2\0Type\0traceback\0format\0args...\0`). `qubesType` is the
 * Python class name, kept for messages; `code` is the stable mapping of it.
 */
export class QubesdError extends OrchestratorError {
  readonly qubesType: string;

  constructor(qubesType: string, message: string) {
    super(codeForQubesException(qubesType), `${qubesType}: ${message}`);
    this.qubesType = qubesType;
  }
}

const QUBES_EXCEPTION_CODES: Record<string, OrchestratorErrorCode> = {
  QubesVMNotFoundError: 'qubes.vm-not-found',
  QubesVMInvalidUUIDError: 'qubes.vm-not-found',
  QubesVMAlreadyExistsError: 'qubes.vm-already-exists',
  QubesVMNotHaltedError: 'qubes.vm-not-halted',
  QubesVMNotStartedError: 'qubes.vm-not-running',
  QubesVMNotRunningError: 'qubes.vm-not-running',
  QubesVMInUseError: 'qubes.vm-in-use',
  QubesNoSuchPropertyError: 'qubes.no-such-property',
  QubesFeatureNotFoundError: 'qubes.feature-not-found',
  QubesTagNotFoundError: 'qubes.tag-not-found',
  QubesLabelNotFoundError: 'qubes.label-not-found',
  QubesValueError: 'qubes.value',
  QubesPropertyValueError: 'qubes.value',
  StoragePoolException: 'qubes.storage',
  PermissionDenied: 'qubes.permission-denied',
  ProtocolError: 'qubes.protocol',
};

function codeForQubesException(type: string): OrchestratorErrorCode {
  return QUBES_EXCEPTION_CODES[type] ?? 'qubes.exception';
}
