import { describe, expect, it } from 'vitest';
import { fuzz } from '../../fuzz/engine.ts';
import { mutate, Random } from '../../fuzz/mutate.ts';
import { judge, PropertyFailure, type FuzzTarget } from '../../fuzz/target.ts';
import { ParseError, TmplError } from '../../protocol/errors.ts';
import { parsePlanted } from '../helpers/planted-bug.ts';

const planted: FuzzTarget = {
  name: 'planted',
  parsers: 'test/helpers/planted-bug.ts',
  sources: ['test/helpers/planted-bug.ts'],
  maxInputBytes: 16,
  refusals: /^stream\.truncated$/,
  dictionary: [],
  run: parsePlanted,
};

describe('judge', () => {
  const target = (run: FuzzTarget['run']): FuzzTarget => ({ ...planted, run });

  it('tells acceptance, refusal with an allowed code, and crashes apart', async () => {
    expect(
      await judge(
        target(() => undefined),
        new Uint8Array(0),
      ),
    ).toEqual({ kind: 'accepted' });
    expect(
      await judge(
        target(() => {
          throw new ParseError('stream.truncated', 'x', 0);
        }),
        new Uint8Array(0),
      ),
    ).toEqual({ kind: 'refused', code: 'stream.truncated' });
    for (const error of [
      new TypeError('x'),
      new PropertyFailure('round trip'),
      new TmplError('frame.type', 'a code this target may not give'),
      'a string',
    ]) {
      const outcome = await judge(
        target(() => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- a parser bug may throw anything
          throw error;
        }),
        new Uint8Array(0),
      );
      expect(outcome.kind).toBe('crash');
    }
  });
});

describe('mutate', () => {
  it('is repeatable for a seed and respects the size limit', () => {
    const input = new TextEncoder().encode('template.conf=1\n'.repeat(4));
    const run = (seed: number) => {
      const rng = new Random(seed);
      return Array.from({ length: 200 }, () =>
        mutate(input, rng, { dictionary: [Uint8Array.of(1, 2)], maxBytes: 70 }),
      );
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    expect(Math.max(...a.map((m) => m.length))).toBeLessThanOrEqual(70);
    expect(new Set(a.map((m) => Buffer.from(m).toString('hex'))).size).toBeGreaterThan(150);
  });
});

describe('fuzz', () => {
  it('finds the bug behind three nested checks by following coverage', async () => {
    const crashes: string[] = [];
    const stats = await fuzz(
      planted,
      {
        deadline: Date.now() + 20_000,
        seed: 1,
        seeds: [new TextEncoder().encode('seed')],
        stopOnCrash: true,
      },
      {
        crash(input, description) {
          crashes.push(description);
          expect([...input.subarray(0, 3)]).toEqual([0x71, 0xd4, 0x3a]);
        },
      },
    );
    expect(crashes).toEqual(['RangeError: planted bug reached']);
    expect(stats.added).toBeGreaterThanOrEqual(3);
    expect(stats.blocksCovered).toBeGreaterThan(0);
  });
});
