/**
 * Errors the worker raises itself (the parsers it uses raise their own ParseError codes). Every
 * failure reaches the orchestrator as an ERROR frame carrying the error's code.
 */
import { TmplError } from '../protocol/errors.ts';
import type { HttpErrorCode, WorkerErrorCode } from '../protocol/error-codes.ts';
export type { HttpErrorCode, WorkerErrorCode };

/** A transfer failed; `url` is the last URL tried (untrusted text from repository metadata). */
export class HttpError extends TmplError {
  declare readonly code: HttpErrorCode;
  readonly url: string | null;
  readonly status: number | null;

  constructor(
    code: HttpErrorCode,
    message: string,
    options: { url?: string; status?: number; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.url = options.url ?? null;
    this.status = options.status ?? null;
  }
}

/** The worker refused its input or the repository's data. */
export class WorkerError extends TmplError {
  declare readonly code: WorkerErrorCode;

  constructor(code: WorkerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
