/**
 * QUERY_RESULT's warnings come from the worker, so the orchestrator takes them only through the
 * schema: a dotted code, a known repository id, one line of display-safe text, a package name,
 * nothing else, and at most MAX_QUERY_WARNINGS of them.
 */
import { describe, expect, it } from 'vitest';
import { MAX_QUERY_WARNINGS, MAX_WARNING_MESSAGE_LENGTH } from '../../protocol/limits.ts';
import { QueryResultSchema } from '../../protocol/messages.ts';

const warning = { code: 'primary.evr', repoid: 'qubes-templates-community', message: 'entry skipped' };
const parse = (warnings: unknown[]) => QueryResultSchema.safeParse({ packages: [], warnings, repomd: [] });

describe('QUERY_RESULT warnings', () => {
  it('accepts a well-formed warning, with or without a package, and a result without warnings', () => {
    expect(parse([warning, { ...warning, package: 'qubes-template-x' }]).success).toBe(true);
    expect(QueryResultSchema.safeParse({ packages: [], repomd: [] }).success).toBe(true);
  });

  it.each([
    [
      'a newline in the message (a forged line on stderr)',
      { ...warning, message: "x\nTemplate 'a' installed" },
    ],
    ['an escape sequence', { ...warning, message: 'x\u001b[2J' }],
    ['a bidi override', { ...warning, message: 'x\u202ey' }],
    ['an over-long message', { ...warning, message: 'm'.repeat(MAX_WARNING_MESSAGE_LENGTH + 1) }],
    ['a code that is not dotted', { ...warning, code: 'EVIL' }],
    ['a repository id with a space', { ...warning, repoid: 'a b' }],
    ['a package that is no rpm name', { ...warning, package: '../x' }],
    ['an unknown field', { ...warning, severity: 'info' }],
  ])('refuses %s', (_what, bad) => {
    expect(parse([bad]).success).toBe(false);
  });

  it(`refuses more than MAX_QUERY_WARNINGS (${MAX_QUERY_WARNINGS})`, () => {
    expect(parse(Array.from({ length: MAX_QUERY_WARNINGS }, () => warning)).success).toBe(true);
    expect(parse(Array.from({ length: MAX_QUERY_WARNINGS + 1 }, () => warning)).success).toBe(false);
  });
});
