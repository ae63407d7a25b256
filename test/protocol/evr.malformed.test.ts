import { describe, expect, it } from 'vitest';
import { ParseError } from '../../protocol/errors.ts';
import { compareEvr, formatEvr, MAX_EVR_LENGTH, parseEvr } from '../../protocol/evr.ts';
import { prng } from '../helpers/mutate.ts';

describe('parseEvr on generated hostile labels', () => {
  it('parses or refuses with an evr.* ParseError; what it parses prints back the same', () => {
    const rand = prng(0xe7);
    const alphabet = [
      '0',
      '1',
      '9',
      'a',
      'Z',
      '.',
      '-',
      ':',
      '~',
      '^',
      '_',
      '+',
      ' ',
      '\n',
      '\0',
      '/',
      'é',
      '\u202e',
      '%',
      '$',
    ];
    let accepted = 0;
    for (let n = 0; n < 5000; n++) {
      const label = Array.from(
        { length: Math.floor(rand() * 12) },
        () => alphabet[Math.floor(rand() * alphabet.length)],
      ).join('');
      try {
        const evr = parseEvr(label);
        accepted++;
        expect(evr.version).toMatch(/^[A-Za-z0-9._+~^]+$/);
        expect(evr.release).toMatch(/^[A-Za-z0-9._+~^]*$/);
        expect(Number.isSafeInteger(evr.epoch)).toBe(true);
        expect(parseEvr(formatEvr(evr))).toEqual(evr);
      } catch (e) {
        expect(e, JSON.stringify(label)).toBeInstanceOf(ParseError);
        expect((e as ParseError).code).toMatch(/^evr\./);
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('refuses labels longer than the limit without looking further', () => {
    const error = (() => {
      try {
        parseEvr('1'.repeat(MAX_EVR_LENGTH + 1));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect((error as ParseError).code).toBe('evr.too-long');
  });

  it('orders generated labels consistently (antisymmetric and transitive)', () => {
    const rand = prng(0x0d);
    const parts = ['0', '1', '01', '2', '10', 'a', 'b', '~', '^', '.', '~rc1', '^git'];
    const label = (): string =>
      `${Math.floor(rand() * 2)}:${Array.from({ length: 1 + Math.floor(rand() * 3) }, () => parts[Math.floor(rand() * parts.length)]).join('')}1-1`;
    const labels = Array.from({ length: 120 }, label);
    for (const a of labels) {
      for (const b of labels) expect(compareEvr(a, b)).toBe(-compareEvr(b, a) || 0);
    }
    const sorted = [...labels].sort(compareEvr);
    for (let i = 0; i + 1 < sorted.length; i++)
      expect(compareEvr(sorted[i]!, sorted[i + 1]!)).toBeLessThanOrEqual(0);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++)
        expect(compareEvr(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
    }
  });
});
