/**
 * Error classes shared by both sides of the trust boundary.
 *
 * Every error carries a stable `code`; tests and the CLI's exit-code mapping rely on the code,
 * never on the message text.
 */

export class TmplError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
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

  constructor(code: string, message: string, offset: number, options?: { cause?: unknown }) {
    super(code, `${message} (at byte ${offset})`, options);
    this.offset = offset;
  }
}

/** A cryptographic check failed: bad or missing signature, digest mismatch, untrusted key. */
export class VerificationError extends TmplError {}
