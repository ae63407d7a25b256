/**
 * Errors of the simulator's qrexec: policy syntax errors (with file and line, as qrexec's
 * PolicySyntaxError reports them), refusals, and failures of the framed client protocol.
 */
import { TmplError } from '../../protocol/errors.ts';
import type { QrexecErrorCode } from '../../protocol/error-codes.ts';
export type { QrexecErrorCode };

export class QrexecError extends TmplError {
  declare readonly code: QrexecErrorCode;

  constructor(code: QrexecErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A policy file that does not parse: `file:line: message`, the layout qrexec uses. */
export class PolicySyntaxError extends QrexecError {
  readonly file: string;
  readonly line: number;

  constructor(code: QrexecErrorCode, file: string, line: number, message: string) {
    super(code, `${file}:${line}: ${message}`);
    this.file = file;
    this.line = line;
  }
}

/** The policy refused the call (no matching rule, a deny rule, or an impossible target). */
export class AccessDenied extends QrexecError {
  constructor(message: string) {
    super('qrexec.denied', message);
  }
}
