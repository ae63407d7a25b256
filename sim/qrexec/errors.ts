/**
 * Errors of the simulator's qrexec: policy syntax errors (with file and line, as qrexec's
 * PolicySyntaxError reports them), refusals, and failures of the framed client protocol.
 */
import { TmplError } from '../../protocol/errors.ts';

export type QrexecErrorCode =
  | 'policy.syntax.fields'
  | 'policy.syntax.service'
  | 'policy.syntax.argument'
  | 'policy.syntax.token'
  | 'policy.syntax.action'
  | 'policy.syntax.param'
  | 'policy.syntax.directive'
  | 'policy.syntax.include'
  | 'policy.syntax.too-large'
  | 'policy.filename'
  | 'qrexec.denied'
  | 'qrexec.request'
  | 'qrexec.frame.type'
  | 'qrexec.frame.length'
  | 'qrexec.frame.unexpected'
  | 'qrexec.frame.hello'
  | 'qrexec.admin'
  | 'qrexec.service';

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
