import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../protocol/errors.ts';
import { compareEvr, compareEvrParts, formatEvr, parseEvr, rpmvercmp, type Evr } from '../../protocol/evr.ts';

/** Debian's python3-rpm lives in the system interpreter, not in any pyenv shim on PATH. */
const SYSTEM_PYTHON = '/usr/bin/python3';

/** A small deterministic PRNG so a failure can be reproduced from the seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generateSegment(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const parts: string[] = [];
  const n = 1 + Math.floor(rand() * 5);
  for (let k = 0; k < n; k++) {
    const kind = rand();
    if (kind < 0.4)
      parts.push(pick(['0', '00', '1', '01', '2', '9', '10', '010', '123', '99999999999999999999']));
    else if (kind < 0.65) parts.push(pick(['a', 'b', 'rc', 'beta', 'B', 'Z', 'fc']));
    else if (kind < 0.8) parts.push(pick(['~', '~~', '^', '^^', '~^']));
    else parts.push(pick(['.', '_', '+', '..']));
  }
  return parts.join('');
}

function generateEvr(rand: () => number): Evr {
  const epoch = rand() < 0.7 ? 0 : Math.floor(rand() * 3);
  let version = generateSegment(rand);
  let release = rand() < 0.15 ? '' : generateSegment(rand);
  // Bias towards near-equal labels, where the interesting rules decide.
  if (rand() < 0.3) version = version.replace(/0/g, '00');
  if (rand() < 0.1) release = '';
  return { epoch, version, release };
}

async function labelCompareAll(pairs: readonly [Evr, Evr][]): Promise<number[]> {
  const script = [
    'import json, sys, rpm',
    'pairs = json.load(sys.stdin)',
    'out = [rpm.labelCompare((str(a[0]), a[1], a[2]), (str(b[0]), b[1], b[2])) for a, b in pairs]',
    'json.dump(out, sys.stdout)',
  ].join('\n');
  const input = JSON.stringify(
    pairs.map(([a, b]) => [
      [a.epoch, a.version, a.release],
      [b.epoch, b.version, b.release],
    ]),
  );
  const { stdout } = await execa(SYSTEM_PYTHON, ['-c', script], { input });
  return JSON.parse(stdout) as number[];
}

describe('compareEvr against python3-rpm labelCompare', () => {
  it('agrees on thousands of generated pairs', async () => {
    const rand = prng(20261126);
    const pairs: [Evr, Evr][] = [];
    for (let k = 0; k < 6000; k++) {
      const a = generateEvr(rand);
      // Every third pair is a mutation of the first label, so equal and near-equal cases occur.
      const b =
        k % 3 === 0 ? { ...a, release: a.release + generateSegment(rand).slice(0, 1) } : generateEvr(rand);
      pairs.push([a, b]);
    }
    const expected = await labelCompareAll(pairs);
    const mismatches = pairs
      .map(([a, b], k) => ({
        a: formatEvr(a),
        b: formatEvr(b),
        ours: compareEvrParts(a, b),
        rpm: expected[k],
      }))
      .filter((r) => r.ours !== r.rpm);
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The generated set must exercise all three outcomes.
    expect(new Set(expected)).toEqual(new Set([-1, 0, 1]));
  });

  it('agrees on the documented corner cases', async () => {
    const cases: [string, string][] = [
      ['1.0', '1.0~rc1'],
      ['1.0~rc1', '1.0~rc2'],
      ['1.0^', '1.0'],
      ['1.0^git1', '1.0.1'],
      ['1.0^git1', '1.0^git2'],
      ['1.0~rc1^git1', '1.0~rc1'],
      ['001', '1'],
      ['1a', '1.a'],
      ['a', '1'],
      ['1_0', '1.0'],
      ['4.2.0-202501010000', '4.2.0-202412312359'],
      ['1:1.0-1', '2.0-1'],
      ['1.0-1', '1.0'],
      // rpm's epoch is unsigned 32-bit: the top of the range orders above everything below it.
      ['4294967295:1.0-1', '4294967294:9.0-1'],
      ['4294967295:1.0-1', '2147483648:1.0-1'],
      ['2147483648:1.0-1', '2147483647:1.0-1'],
    ];
    const parsed = cases.map(([a, b]) => [parseEvr(a), parseEvr(b)] as [Evr, Evr]);
    const expected = await labelCompareAll(parsed);
    expect(cases.map(([a, b]) => compareEvr(a, b))).toEqual(expected);
    expect(cases.map(([a, b]) => compareEvr(b, a))).toEqual(expected.map((x) => -x || 0));
  });
});

describe('rpmvercmp', () => {
  it('agrees with rpm on arbitrary printable ASCII, separators included', async () => {
    const rand = prng(7);
    const alphabet = '0123456789aZz.-:_+~^ %/';
    const randomString = (): string =>
      Array.from(
        { length: 1 + Math.floor(rand() * 8) },
        () => alphabet[Math.floor(rand() * alphabet.length)],
      ).join('');
    const pairs: [Evr, Evr][] = [];
    for (let k = 0; k < 3000; k++) {
      pairs.push([
        { epoch: 0, version: randomString(), release: '' },
        { epoch: 0, version: randomString(), release: '' },
      ]);
    }
    const expected = await labelCompareAll(pairs);
    const mismatches = pairs
      .map(([a, b], k) => ({
        a: a.version,
        b: b.version,
        ours: rpmvercmp(a.version, b.version),
        rpm: expected[k],
      }))
      .filter((r) => r.ours !== r.rpm);
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  it('orders tilde before the end and caret after it', () => {
    expect(rpmvercmp('1~', '1')).toBe(-1);
    expect(rpmvercmp('1^', '1')).toBe(1);
    expect(rpmvercmp('1^', '1.0')).toBe(-1);
    expect(rpmvercmp('1.0', '1.0')).toBe(0);
    expect(rpmvercmp('1..0', '1.0')).toBe(0);
  });
});

describe('parseEvr', () => {
  it('accepts every unsigned 32-bit epoch, as rpm does', () => {
    expect(parseEvr('4294967295:1.0-1')).toEqual({ epoch: 4294967295, version: '1.0', release: '1' });
    expect(formatEvr(parseEvr('4294967295:1.0-1'))).toBe('4294967295:1.0-1');
  });

  it('reads epoch, version and release', () => {
    expect(parseEvr('2:4.2.0-202501010000')).toEqual({ epoch: 2, version: '4.2.0', release: '202501010000' });
    expect(parseEvr('4.2.0-1')).toEqual({ epoch: 0, version: '4.2.0', release: '1' });
    expect(parseEvr(':4.2.0-1')).toEqual({ epoch: 0, version: '4.2.0', release: '1' });
    expect(parseEvr('4.2.0')).toEqual({ epoch: 0, version: '4.2.0', release: '' });
    expect(formatEvr(parseEvr('4.2.0-1'))).toBe('0:4.2.0-1');
  });

  const bad: [string, string][] = [
    ['', 'evr.empty'],
    ['x:1-1', 'evr.epoch'],
    ['-1:1-1', 'evr.epoch'],
    ['99999999999:1-1', 'evr.epoch-range'],
    ['4294967296:1-1', 'evr.epoch-range'],
    ['1:-1', 'evr.version'],
    ['1.0-', 'evr.release'],
    ['1.0-1-2', 'evr.charset'],
    ['1.0-1:2', 'evr.epoch'],
    ['1.0 -1', 'evr.charset'],
    ['1.0-é', 'evr.charset'],
    ['1'.repeat(600), 'evr.too-long'],
    [`${'1'.repeat(129)}-1`, 'evr.too-long'],
    [`1-${'1'.repeat(129)}`, 'evr.too-long'],
  ];
  it.each(bad)('rejects %j with %s', (input, code) => {
    expect(() => parseEvr(input)).toThrow(ParseError);
    try {
      parseEvr(input);
    } catch (e) {
      expect((e as ParseError).code).toBe(code);
    }
  });
});
