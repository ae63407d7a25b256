/**
 * The error catalogue: every code of the ErrorCode union has an entry and no entry names a code
 * outside it, the committed docs/error-codes.md is what the generator writes, a misspelt code
 * fails the type check, and the CLI's exit statuses come from the catalogue.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, exitStatusOf } from '../../orchestrator/error-catalogue.ts';
import { errorCodesMarkdown } from '../../orchestrator/cli/error-list.ts';
import { exitCodeFor } from '../../orchestrator/cli/main.ts';
import { InterruptedError } from '../../orchestrator/cli/interrupt.ts';
import { OrchestratorError } from '../../orchestrator/errors.ts';
import { ParseError, TmplError } from '../../protocol/errors.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** The quoted members of the unions in protocol/error-codes.ts, read from its source. */
function unionMembers(): Set<string> {
  const source = readFileSync(path.join(root, 'protocol/error-codes.ts'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
  return new Set([...source.matchAll(/'([^']*)'/g)].map((m) => m[1]!));
}

describe('the error catalogue', () => {
  it('has an entry for exactly the codes of the ErrorCode union', () => {
    const union = unionMembers();
    expect(union.size).toBeGreaterThan(300);
    expect(new Set(Object.keys(ERROR_CATALOGUE))).toEqual(union);
  });

  it('gives every code a meaning, and dotted lowercase codes but for the four bare words', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      expect(entry.meaning.length, code).toBeGreaterThan(5);
      if (!['usage', 'cancelled', 'interrupted', 'internal'].includes(code))
        expect(code).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
    }
  });

  it('is what docs/error-codes.md lists (regenerate it with npm run errors:list)', () => {
    const committed = readFileSync(path.join(root, 'docs/error-codes.md'), 'utf8');
    expect(committed).toBe(errorCodesMarkdown());
    for (const code of Object.keys(ERROR_CATALOGUE)) expect(committed).toContain(`| \`${code}\` |`);
  });

  it('refuses a misspelt code at the type check', () => {
    // @ts-expect-error: 'rpm.lead.magik' is not an ErrorCode (tsc fails if this ever compiles).
    const typo = new ParseError('rpm.lead.magik', 'x', 0);
    // @ts-expect-error: OrchestratorError takes only the orchestrator's codes.
    const foreign = new OrchestratorError('cpio.magic', 'x');
    expect([typo.code, foreign.code]).toEqual(['rpm.lead.magik', 'cpio.magic']);
  });
});

describe('exit statuses from the catalogue', () => {
  it.each([
    ['usage', 2],
    ['template.not-found', 2],
    ['qubes.no-admin-api', 2],
    ['lock.held', 1],
    ['template.rollback', 1],
    ['worker.reported-error', 1],
  ] as const)('%s exits %i', (code, status) => {
    expect(exitStatusOf(code)).toBe(status);
    expect(exitCodeFor(new OrchestratorError(code, 'x'))).toBe(status);
  });

  it('a parser code exits 1, an error without a code 1, an interruption 128 + the signal', () => {
    expect(exitCodeFor(new TmplError('sparse.extent-order', 'x'))).toBe(1);
    expect(exitCodeFor(new Error('bug'))).toBe(1);
    expect(exitCodeFor(new InterruptedError('SIGINT'))).toBe(130);
    expect(exitStatusOf('interrupted', 15)).toBe(143);
  });
});
