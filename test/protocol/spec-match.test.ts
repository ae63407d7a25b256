import { describe, expect, it } from 'vitest';
import {
  matchesSpec,
  specMatchPriority,
  specTargets,
  templateNameOfPackage,
  templatePackageName,
  type SpecCandidate,
} from '../../protocol/spec-match.ts';

const fedora: SpecCandidate = { name: 'fedora-41-xfce', epoch: 0, version: '4.2.0', release: '202501010000' };
const withEpoch: SpecCandidate = { name: 'debian-12', epoch: 2, version: '4.3.0', release: '202602020000' };

describe('specTargets', () => {
  it('lists the five forms for epoch 0 and three otherwise, best first', () => {
    expect(specTargets(fedora)).toEqual([
      'fedora-41-xfce-0:4.2.0-202501010000',
      'fedora-41-xfce-4.2.0-202501010000',
      'fedora-41-xfce',
      'fedora-41-xfce-0:4.2.0',
      'fedora-41-xfce-4.2.0',
    ]);
    expect(specTargets(withEpoch)).toEqual([
      'debian-12-2:4.3.0-202602020000',
      'debian-12',
      'debian-12-2:4.3.0',
    ]);
  });
});

describe('specMatchPriority (qvm-template is_match_spec)', () => {
  const table: [string, SpecCandidate, number | undefined][] = [
    ['fedora-41-xfce-0:4.2.0-202501010000', fedora, 0],
    ['fedora-41-xfce-4.2.0-202501010000', fedora, 1],
    ['fedora-41-xfce', fedora, 2],
    ['fedora-41-xfce-0:4.2.0', fedora, 3],
    ['fedora-41-xfce-4.2.0', fedora, 4],
    ['fedora-*', fedora, 0],
    ['fedora-41-*', fedora, 0],
    ['*', fedora, 0],
    ['fedora-41-xfc?', fedora, 2],
    ['fedora-4[01]-xfce', fedora, 2],
    ['fedora-4[!1]-xfce', fedora, undefined],
    ['fedora-41', fedora, undefined],
    ['Fedora-41-xfce', fedora, undefined],
    ['fedora-41-xfce-4.2.0-2025*', fedora, 1],
    ['fedora-41-xfce-4.2.*', fedora, 1],
    ['fedora-41-xfce-0:4.2.?', fedora, 3],
    ['qubes-template-fedora-41-xfce', fedora, undefined],
    // Epoch other than 0: the forms without an epoch do not exist.
    ['debian-12-2:4.3.0-202602020000', withEpoch, 0],
    ['debian-12-4.3.0-202602020000', withEpoch, undefined],
    ['debian-12', withEpoch, 1],
    ['debian-12-2:4.3.0', withEpoch, 2],
    ['debian-12-4.3.0', withEpoch, undefined],
    ['debian-12-*:4.3.0', withEpoch, 2],
    ['debian-1?', withEpoch, 1],
  ];
  it.each(table)('%s against %j is %s', (spec, candidate, priority) => {
    expect(specMatchPriority(spec, candidate)).toBe(priority);
    expect(matchesSpec(spec, candidate)).toBe(priority !== undefined);
  });
});

describe('template package names', () => {
  it('adds and strips the qubes-template- prefix', () => {
    expect(templatePackageName('fedora-41')).toBe('qubes-template-fedora-41');
    expect(templateNameOfPackage('qubes-template-fedora-41')).toBe('fedora-41');
    expect(templateNameOfPackage('qubes-template-')).toBeUndefined();
    expect(templateNameOfPackage('kernel')).toBeUndefined();
  });
});
