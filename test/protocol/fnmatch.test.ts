import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { fnmatchcase, isGlobPattern, MAX_FNMATCH_PATTERN_LENGTH } from '../../protocol/fnmatch.ts';

/** Python 3.11 is what Qubes 4.2's dom0 runs qvm-template with. */
const SYSTEM_PYTHON = '/usr/bin/python3';

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

async function pythonFnmatch(pairs: readonly [string, string][]): Promise<boolean[]> {
  const script = [
    'import fnmatch, json, sys',
    'pairs = json.load(sys.stdin)',
    'json.dump([fnmatch.fnmatchcase(n, p) for n, p in pairs], sys.stdout)',
  ].join('\n');
  const { stdout } = await execa(SYSTEM_PYTHON, ['-c', script], { input: JSON.stringify(pairs) });
  return JSON.parse(stdout) as boolean[];
}

describe('fnmatchcase against Python fnmatch.fnmatchcase', () => {
  it('agrees on generated patterns with sets, ranges, negation and reversed ranges', async () => {
    const rand = prng(42);
    const patternAlphabet = [
      'a',
      'b',
      'c',
      'z',
      '-',
      '!',
      ']',
      '[',
      '*',
      '?',
      '^',
      '\\',
      '/',
      '.',
      'é',
      '\n',
    ];
    const nameAlphabet = ['a', 'b', 'c', 'z', '-', '!', ']', '[', '^', '\\', '/', '.', 'é', '\n', 'y', 'B'];
    const pick = (xs: readonly string[]): string => xs[Math.floor(rand() * xs.length)]!;
    const pairs: [string, string][] = [];
    for (let k = 0; k < 8000; k++) {
      let pattern = '';
      const plen = Math.floor(rand() * 9);
      for (let i = 0; i < plen; i++) pattern += rand() < 0.2 ? '[' : pick(patternAlphabet);
      const nlen = Math.floor(rand() * 6);
      let name = '';
      for (let i = 0; i < nlen; i++) name += pick(nameAlphabet);
      pairs.push([name, pattern]);
    }
    const expected = await pythonFnmatch(pairs);
    const mismatches = pairs
      .map(([name, pattern], k) => ({ name, pattern, ours: fnmatchcase(name, pattern), python: expected[k] }))
      .filter((r) => r.ours !== r.python);
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(expected.filter(Boolean).length).toBeGreaterThan(200);
  });

  it('matches template-shaped names', async () => {
    const pairs: [string, string][] = [
      ['fedora-41-xfce', 'fedora-*'],
      ['fedora-41-xfce', 'fedora-4[0-1]-*'],
      ['fedora-41-xfce', 'fedora-4[!1]-*'],
      ['debian-12-minimal-0:4.2.0-202501010000', 'debian-12-minimal-0:4.2.0-*'],
      ['a/b', 'a*b'],
      ['ab', 'a[]b'],
      ['a]b', 'a[]]b'],
    ];
    const expected = await pythonFnmatch(pairs);
    expect(pairs.map(([n, p]) => fnmatchcase(n, p))).toEqual(expected);
  });

  it('stays linear on patterns built to backtrack', () => {
    const name = 'a'.repeat(5000);
    const started = performance.now();
    expect(fnmatchcase(name, `${'*a'.repeat(200)}b`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('never matches patterns above the length limit', () => {
    expect(fnmatchcase('x', '*'.repeat(MAX_FNMATCH_PATTERN_LENGTH + 1))).toBe(false);
    expect(fnmatchcase('x', '*'.repeat(MAX_FNMATCH_PATTERN_LENGTH))).toBe(true);
  });

  it('recognises glob patterns as dnf does', () => {
    expect(isGlobPattern('qubes-templates-*')).toBe(true);
    expect(isGlobPattern('repo[12]')).toBe(true);
    expect(isGlobPattern('repo?')).toBe(true);
    expect(isGlobPattern('qubes-templates-itl')).toBe(false);
  });
});
