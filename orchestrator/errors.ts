/**
 * Orchestrator error classes. Each carries a stable code; the CLI maps codes to exit codes and
 * `--json` error objects.
 */
import { TmplError, VerificationError } from '../protocol/errors.ts';

export type OrchestratorErrorCode =
  | 'qubes.no-admin-api'
  | 'qubes.communication'
  | 'qubes.vm-not-found'
  | 'qubes.vm-already-exists'
  | 'qubes.vm-not-halted'
  | 'qubes.vm-not-running'
  | 'qubes.vm-in-use'
  | 'qubes.no-such-property'
  | 'qubes.feature-not-found'
  | 'qubes.tag-not-found'
  | 'qubes.label-not-found'
  | 'qubes.value'
  | 'qubes.storage'
  | 'qubes.permission-denied'
  | 'qubes.protocol'
  | 'qubes.exception'
  | 'qrexec.refused'
  | 'qrexec.failed'
  | 'lock.held'
  | 'worker.failed'
  | 'worker.protocol'
  | 'worker.timeout'
  | 'worker.too-slow'
  | 'worker.deadline'
  | 'worker.reported-error'
  | 'worker.missing-dependency'
  | 'import.failed'
  | 'image.empty'
  | 'pool.no-space'
  | 'template.not-found'
  | 'template.not-managed'
  | 'template.name-taken'
  | 'template.conf'
  | 'template.appmenu'
  | 'template.not-reverted'
  | 'template.post-install'
  | 'template.rollback'
  | 'metadata.rollback'
  | 'metadata.max-age'
  | 'metadata.signature'
  | 'metadata.revision'
  | 'metadata.evidence'
  | 'metadata.state'
  | 'config.repo'
  | 'config.keyring'
  | 'download.write'
  | 'usage'
  | 'cancelled'
  | 'interrupted';

/**
 * Codes of the VerificationError refusing a validly signed package whose content is not what the
 * Qubes builder makes (template-layout.ts from the signed header, image-stream.ts for the image
 * tar's member name).
 */
export type TemplateLayoutErrorCode =
  | 'package.not-template'
  | 'package.bad-name'
  | 'package.file-too-large'
  | 'package.parts'
  | 'template.layout.outside'
  | 'template.layout.file-type'
  | 'template.layout.link'
  | 'template.layout.unknown'
  | 'template.layout.ghost'
  | 'template.layout.duplicate'
  | 'template.image-name';

/** The VerificationError of a layout refusal, its code checked against the union. */
export function layoutError(code: TemplateLayoutErrorCode, message: string): VerificationError {
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
export class QubesApiError extends OrchestratorError {
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
