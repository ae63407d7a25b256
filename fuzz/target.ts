/**
 * What a fuzz target is, and how an outcome is judged. A target takes bytes and either returns
 * (the input parsed and every property of the parsed value held) or throws. A throw is a refusal
 * when it is one of the project's TmplError classes with a code the target is allowed to give;
 * anything else (a TypeError, a RangeError, a PropertyFailure, a TmplError with a foreign code) is
 * a crash.
 */
import type * as fc from 'fast-check';
import { TmplError } from '../protocol/errors.ts';

export interface FuzzTarget {
  readonly name: string;
  /** The parser(s) it drives, for the report. */
  readonly parsers: string;
  /** Source files (relative to the repository root) whose blocks count as the target's coverage. */
  readonly sources: readonly string[];
  /** Largest input the mutator makes. */
  readonly maxInputBytes: number;
  /** Error codes this target may refuse with. */
  readonly refusals: RegExp;
  /** Tokens the mutator inserts or overwrites with (keywords, magic numbers). */
  readonly dictionary: readonly (string | Uint8Array)[];
  /** Structured inputs from fast-check, fed to the same loop as the mutated ones. */
  readonly arbitrary?: fc.Arbitrary<Uint8Array>;
  run(input: Uint8Array): Promise<void> | void;
}

/** A round-trip or differential property did not hold for an accepted input. */
export class PropertyFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PropertyFailure';
  }
}

export type Outcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'refused'; readonly code: string }
  | { readonly kind: 'crash'; readonly error: unknown };

/** Runs one input through a target and judges the outcome. */
export async function judge(target: FuzzTarget, input: Uint8Array): Promise<Outcome> {
  try {
    await target.run(input);
    return { kind: 'accepted' };
  } catch (error) {
    if (error instanceof TmplError && target.refusals.test(error.code)) {
      return { kind: 'refused', code: error.code };
    }
    return { kind: 'crash', error };
  }
}

/** One line that identifies a crash: class, code and message (for deduplication and reports). */
export function describeCrash(error: unknown): string {
  if (error instanceof TmplError) return `${error.name} ${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `non-error thrown: ${String(error)}`;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** `bytes` in chunks of `size` bytes (0: one chunk), to drive streaming parsers across boundaries. */
export function* chunked(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  if (size <= 0) {
    yield bytes;
    return;
  }
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}
