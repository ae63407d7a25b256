/** Errors the template forge raises; codes are stable for tests and the CLI. */
import { TmplError } from '../../protocol/errors.ts';

export type ForgeErrorCode =
  | 'forge.cpio-size'
  | 'forge.compressor-unavailable'
  | 'forge.compressor-failed'
  | 'forge.bad-option'
  | 'forge.image-size'
  | 'forge.package-read';

export class ForgeError extends TmplError {
  declare readonly code: ForgeErrorCode;

  constructor(code: ForgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
