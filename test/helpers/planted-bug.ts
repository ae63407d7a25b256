/**
 * A parser with a bug behind three nested byte checks, for the engine's own test: blind random
 * inputs reach it about once in 2^24 tries, a coverage-guided search in a few thousand.
 */
import { ParseError } from '../../protocol/errors.ts';

export function parsePlanted(input: Uint8Array): void {
  if (input.length < 4) throw new ParseError('stream.truncated', 'too short', input.length);
  if (input[0] === 0x71) {
    if (input[1] === 0xd4) {
      if (input[2] === 0x3a) {
        throw new RangeError('planted bug reached');
      }
    }
  }
}
