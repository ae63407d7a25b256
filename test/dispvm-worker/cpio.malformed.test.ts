import { describe, expect, it } from 'vitest';
import { ParseError } from '../../protocol/errors.ts';
import { parseCpio, type CpioOptions } from '../../dispvm-worker/cpio.ts';
import { expectCode } from '../helpers/expect-error.ts';
import {
  chunked,
  collect,
  concat,
  hex8,
  newcEntry,
  strippedEntry,
  trailer,
} from '../helpers/cpio-builder.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const REG = 0o100644;

async function parseAll(bytes: Uint8Array, opts: CpioOptions = {}, chunk = 5): Promise<number> {
  let n = 0;
  for await (const entry of parseCpio(chunked(bytes, chunk), opts)) {
    await collect(entry.content);
    n++;
  }
  return n;
}

const valid = concat([
  newcEntry({ name: './var', mode: 0o40755, nlink: 2 }),
  newcEntry({ name: './var/a', mode: REG }, text('hello world')),
  newcEntry({ name: './var/l', mode: 0o120777 }, text('a')),
  trailer(),
]);

describe('cpio: hostile newc headers', () => {
  it('accepts the valid archive the cases start from', async () => {
    expect(await parseAll(valid)).toBe(3);
  });

  it.each([
    ['070702', 'cpio.magic'],
    ['070707', 'cpio.magic'],
    ['07070x', 'cpio.magic'],
    ['\u0000\u0000\u0000\u0000\u0000\u0000', 'cpio.magic'],
  ])('magic %j is refused (%s)', async (magic, code) => {
    await expectCode(() => parseAll(newcEntry({ name: './a', mode: REG, magic })), code);
  });

  const goodFields = [0, REG, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0].map(hex8).join('');
  it.each([
    ['a non-hex digit', goodFields.slice(0, 10) + 'g' + goodFields.slice(11)],
    ['a space', ' ' + goodFields.slice(1)],
    ['a sign', '+' + goodFields.slice(1)],
    ['a 0x prefix', '0x' + goodFields.slice(2)],
    ['a NUL', '\u0000' + goodFields.slice(1)],
  ])('a field with %s is refused', async (_what, rawFields) => {
    await expectCode(
      () => parseAll(concat([newcEntry({ name: './a', mode: REG, rawFields }), trailer()])),
      'cpio.header',
    );
  });

  it('a non-zero c_check is refused', async () => {
    await expectCode(
      () => parseAll(concat([newcEntry({ name: './a', mode: REG, check: 1 }), trailer()])),
      'cpio.header',
    );
  });

  it.each([0, 1, 4097, 0xffffffff])('name size %i is refused without allocating it', async (nameSize) => {
    await expectCode(() => parseAll(newcEntry({ name: './a', mode: REG, nameSize })), 'cpio.name');
  });

  it.each([
    ['no NUL terminator', text('./ab')],
    ['an embedded NUL', text('./a\u0000b\u0000')],
    ['invalid UTF-8', new Uint8Array([0x2e, 0x2f, 0xff, 0xfe, 0])],
  ])('a name with %s is refused', async (_what, rawName) => {
    await expectCode(
      () => parseAll(concat([newcEntry({ name: '', mode: REG, rawName }), trailer()])),
      'cpio.name',
    );
  });

  it.each([
    '../etc/passwd',
    './a/../../x',
    '/etc/passwd',
    './/etc',
    'a//b',
    'a/',
    './',
    '.',
    './a/./b',
    '..',
  ])('name %j is refused (traversal or non-canonical)', async (name) => {
    await expectCode(() => parseAll(concat([newcEntry({ name, mode: REG }), trailer()])), 'cpio.name');
  });

  it.each([
    ['a directory with data', { name: './d', mode: 0o40755, size: 4 }, text('abcd')],
    ['an empty symlink', { name: './l', mode: 0o120777, size: 0 }, new Uint8Array(0)],
    ['a symlink longer than PATH_MAX', { name: './l', mode: 0o120777 }, new Uint8Array(5000).fill(0x61)],
    ['a fifo with data', { name: './f', mode: 0o10644, size: 1 }, text('x')],
  ])('%s is refused', async (_what, fields, data) => {
    await expectCode(() => parseAll(concat([newcEntry(fields, data), trailer()])), 'cpio.size');
  });

  it.each([0o170644, 0o644, 0o1100644])('mode %s is refused', async (mode) => {
    await expectCode(() => parseAll(concat([newcEntry({ name: './a', mode }), trailer()])), 'cpio.mode');
  });

  it('a size that runs past the end of the archive is truncation', async () => {
    await expectCode(
      () =>
        parseAll(concat([newcEntry({ name: './a', mode: REG, size: 0xfffffff0 }, text('abc')), trailer()])),
      'cpio.truncated',
    );
  });

  it('non-zero padding after a name or data is refused', async () => {
    const entry = newcEntry({ name: './a', mode: REG }, text('x'));
    const badName = entry.slice();
    badName[114] = 1; // 110 header + 4 name bytes ("./a" and NUL), then padding
    await expectCode(() => parseAll(concat([badName, trailer()])), 'cpio.padding');
    const badData = entry.slice();
    badData[badData.length - 1] = 1;
    await expectCode(() => parseAll(concat([badData, trailer()])), 'cpio.padding');
  });

  it('a trailer with data is refused', async () => {
    await expectCode(
      () => parseAll(newcEntry({ name: 'TRAILER!!!', mode: 0 }, text('junk'))),
      'cpio.trailer',
    );
  });

  it.each([
    ['one byte', new Uint8Array([1])],
    ['a second archive', valid],
    ['zeros (no block padding allowed)', new Uint8Array(508)],
  ])('%s after the trailer is refused', async (_what, tail) => {
    await expectCode(() => parseAll(concat([valid, tail])), 'cpio.trailing-data');
  });

  it('zeros past the 512-byte block are refused even when block padding is allowed', async () => {
    await expectCode(
      () => parseAll(concat([valid, new Uint8Array(1024)]), { allowBlockPadding: true }),
      'cpio.trailing-data',
    );
  });

  it('every truncation of a valid archive is reported as such', async () => {
    for (let cut = 0; cut < valid.length; cut++) {
      await expectCode(() => parseAll(valid.subarray(0, cut), {}, 3), 'cpio.truncated');
    }
  });
});

describe('cpio: hostile stripped (07070X) entries', () => {
  const files = [
    { path: '/a', size: 3, mode: REG },
    { path: '/b', size: 0, mode: REG },
  ];

  it('a file index outside the list is refused', async () => {
    await expectCode(() => parseAll(concat([strippedEntry(2), trailer()]), { files }), 'cpio.file-index');
    await expectCode(
      () => parseAll(concat([strippedEntry(0xffffffff), trailer()]), { files }),
      'cpio.file-index',
    );
  });

  it('a non-hex file index is refused', async () => {
    await expectCode(
      () => parseAll(concat([strippedEntry(0, text('abc'), '0000000z'), trailer()]), { files }),
      'cpio.header',
    );
  });

  it('layouts cannot be mixed', async () => {
    await expectCode(
      () =>
        parseAll(concat([newcEntry({ name: './b', mode: REG }), strippedEntry(0, text('abc')), trailer()]), {
          files,
        }),
      'cpio.magic',
    );
    await expectCode(
      () =>
        parseAll(concat([strippedEntry(0, text('abc')), newcEntry({ name: './b', mode: REG }), trailer()]), {
          files,
        }),
      'cpio.magic',
    );
  });

  it('a short file is truncation', async () => {
    await expectCode(
      () => parseAll(concat([strippedEntry(0, text('ab')).subarray(0, 18)]), { files }),
      'cpio.truncated',
    );
  });
});

describe('cpio: random corruption', () => {
  it('a mutated archive parses or fails with a cpio.* ParseError, nothing else', async () => {
    // Deterministic xorshift so a failure reproduces.
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const codes = new Set<string>();
    for (let round = 0; round < 2000; round++) {
      const bytes = valid.slice();
      for (let k = 0, n = 1 + rand(3); k < n; k++) bytes[rand(bytes.length)] = rand(256);
      try {
        await parseAll(bytes, {}, 1 + rand(64));
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
        expect((e as ParseError).code).toMatch(/^cpio\./);
        codes.add((e as ParseError).code);
      }
    }
    expect(codes.size).toBeGreaterThan(4);
  });
});
