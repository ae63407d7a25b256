import { describe, expect, it } from 'vitest';
import { ParseError, TmplError } from '../../protocol/errors.ts';

describe('ParseError', () => {
  it('carries a stable code and the byte offset', () => {
    const error = new ParseError('rpm.lead.magic', 'bad lead magic', 4);
    expect(error).toBeInstanceOf(TmplError);
    expect(error.code).toBe('rpm.lead.magic');
    expect(error.offset).toBe(4);
    expect(error.name).toBe('ParseError');
  });
});
