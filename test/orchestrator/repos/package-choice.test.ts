/** Choosing packages for specs as qvm-template does, without a system. */
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import { chooseEach, select } from '../../../orchestrator/repos/package-choice.ts';
import { candidate } from '../../helpers/listing-fixtures.ts';

const LISTING = [
  candidate('fedora-42', '4.2.0-2'),
  candidate('fedora-42', '4.2.0-3', 'qubes-templates-itl-testing'),
  candidate('fedora-42', '4.2.0-3'),
  candidate('debian-13', '4.3.0-1'),
];

describe('chooseEach', () => {
  it('for each spec the latest matching package, a stable repository winning a tie', () => {
    const chosen = chooseEach(['fedora-42', 'debian-13'], LISTING);
    expect(chosen.map((c) => `${c.templateName}-${c.release}@${c.repoid}`)).toEqual([
      'fedora-42-3@qubes-templates-itl',
      'debian-13-1@qubes-templates-itl',
    ]);
  });

  it('refuses a spec that matches nothing with template.not-found', () => {
    let error: unknown;
    try {
      chooseEach(['fedora-42', 'arch'], LISTING);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OrchestratorError);
    expect((error as OrchestratorError).code).toBe('template.not-found');
  });
});

describe('select', () => {
  it('reinstall takes the installed EVR, upgrade the highest higher, downgrade the highest lower', () => {
    const at = { epoch: 0, version: '4.2.0', release: '2' };
    const fedora = LISTING.filter((c) => c.templateName === 'fedora-42');
    expect(select(fedora, 'reinstall', at)?.release).toBe('2');
    expect(select(fedora, 'upgrade', at)?.repoid).toBe('qubes-templates-itl');
    expect(select(fedora, 'downgrade', at)).toBeUndefined();
  });
});
