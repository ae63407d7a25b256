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
