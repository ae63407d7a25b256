/**
 * The committed fuzz corpus replayed through every target, and each target's fast-check
 * arbitrary run as a property: any input parses or is refused with the target's stable codes.
 * Every crash the fuzzer ever found stays here as a regression once its input is in the corpus.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCorpus } from '../../fuzz/corpus.ts';
import { describeCrash, judge, type Outcome } from '../../fuzz/target.ts';
import { TARGETS } from '../../fuzz/targets.ts';

const crashOf = (outcome: Outcome) => (outcome.kind === 'crash' ? describeCrash(outcome.error) : null);

describe.each(TARGETS.map((t) => [t.name, t] as const))('fuzz target %s', (_name, target) => {
  it('replays its corpus without a crash, and accepts at least one seed', async () => {
    const corpus = await loadCorpus(target.name);
    expect(corpus.length).toBeGreaterThan(0);
    const outcomes = await Promise.all(
      corpus.map(async (entry) => [entry.name, await judge(target, entry.bytes)] as const),
    );
    expect(
      outcomes.map(([name, outcome]) => [name, crashOf(outcome)]).filter(([, crash]) => crash !== null),
    ).toEqual([]);
    expect(outcomes.filter(([, outcome]) => outcome.kind === 'accepted').length).toBeGreaterThan(0);
  });
});

const withArbitrary = TARGETS.flatMap((t) =>
  t.arbitrary !== undefined ? [[t.name, t, t.arbitrary] as const] : [],
);

describe.each(withArbitrary)('fuzz target %s', (_name, target, arbitrary) => {
  it('parses or refuses every input of its fast-check arbitrary', async () => {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        expect(crashOf(await judge(target, input))).toBeNull();
      }),
      { numRuns: 200 },
    );
  });
});
