/** Planning refresh-metadata without a system: which head, which refusals, which features change. */
import { describe, expect, it } from 'vitest';
import { VerificationError } from '../../../protocol/errors.ts';
import type { PackageInfo } from '../../../protocol/rpm-types.ts';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import {
  headRefFor,
  metadataChanges,
  type HeadRef,
} from '../../../orchestrator/transaction/metadata-refresh.ts';
import { installed } from '../../helpers/listing-fixtures.ts';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as OrchestratorError).code;
  }
  return undefined;
}

describe('headRefFor', () => {
  it("asks for the template's own package at its installed EVR from its repository", () => {
    expect(headRefFor('fedora-42', installed('fedora-42', '4.2.0-3'), ['qubes-templates-itl'])).toEqual({
      repoid: 'qubes-templates-itl',
      name: 'qubes-template-fedora-42',
      epoch: 0,
      version: '4.2.0',
      release: '3',
    });
  });

  it('refuses a missing template, an unmanaged one, and one whose repository is not enabled', () => {
    expect(codeOf(() => headRefFor('x', undefined, []))).toBe('template.not-found');
    expect(codeOf(() => headRefFor('x', installed('x', '1-1', false), ['qubes-templates-itl']))).toBe(
      'template.not-managed',
    );
    expect(codeOf(() => headRefFor('x', installed('x', '1-1'), ['other']))).toBe('config.repo');
  });
});

describe('metadataChanges', () => {
  const ref: HeadRef = { repoid: 'r', name: 'qubes-template-x', epoch: 0, version: '1', release: '2' };
  const info = {
    name: 'qubes-template-x',
    epoch: null,
    version: '1',
    release: '2',
    summary: 'New summary',
    description: 'a\nb',
    url: 'https://x.invalid',
    license: 'MIT',
  } as unknown as PackageInfo;

  it('lists only the features whose printable value differs (an unset one counts as different)', () => {
    const current = new Map([
      ['template-summary', 'Old summary'],
      ['template-description', 'a|b'],
      ['template-url', undefined],
      ['template-license', 'MIT'],
    ] as const);
    expect(metadataChanges(ref, info, current)).toEqual([
      ['template-summary', 'New summary'],
      ['template-url', 'https://x.invalid'],
    ]);
  });

  it('refuses a header of another package or another EVR (package.unexpected)', () => {
    for (const other of [{ name: 'qubes-template-y' }, { release: '3' }, { epoch: 1 }]) {
      let error: unknown;
      try {
        metadataChanges(ref, { ...info, ...other }, new Map());
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(VerificationError);
      expect((error as VerificationError).code).toBe('package.unexpected');
    }
  });
});
