/**
 * Error classes shared by both sides of the trust boundary.
 *
 * Every error carries a stable `code` from the one list of codes (error-codes.ts), so a misspelt
 * code fails the type check; tests and the CLI's exit-code mapping rely on the code, never on the
 * message text.
 */
import type { ErrorCode } from './error-codes.ts';

export type { ErrorCode };

export class TmplError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Raised by every parser of untrusted bytes. `offset` is the byte offset, from the start of the
 * parsed unit (file, stream or frame), where the problem was found.
 */
export class ParseError extends TmplError {
  readonly offset: number;

  constructor(code: ErrorCode, message: string, offset: number, options?: { cause?: unknown }) {
    super(code, `${message} (at byte ${offset})`, options);
    this.offset = offset;
  }
}

/** A cryptographic check failed: bad or missing signature, digest mismatch, untrusted key. */
export class VerificationError extends TmplError {}
