/** Errors the template forge raises; codes are stable for tests and the CLI. */
import { TmplError } from '../../protocol/errors.ts';
import type { ForgeErrorCode } from '../../protocol/error-codes.ts';
export type { ForgeErrorCode };

export class ForgeError extends TmplError {
  declare readonly code: ForgeErrorCode;

  constructor(code: ForgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
