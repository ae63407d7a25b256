/**
 * Asserting thrown errors by class and stable code (protocol/errors.ts), for unit tests of the
 * parsers and verifiers; runs of the command line use the kit's expectFailure instead.
 */
import { expect } from 'vitest';
import { ParseError, TmplError } from '../../protocol/errors.ts';

/** Runs fn and asserts it throws (or rejects with) an error of the class and code given. */
export async function expectCode(
  fn: () => unknown,
  code: string,
  errorClass: new (...args: never[]) => TmplError = ParseError,
): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(errorClass);
  expect((error as TmplError).code).toBe(code);
}

/** The code of the ParseError fn throws, or 'accepted' when it returns: for tables of inputs. */
export function parseErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    return (e as ParseError).code;
  }
  return 'accepted';
}
