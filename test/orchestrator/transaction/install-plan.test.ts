/**
 * planInstall and installedWithoutListing (transaction/install-plan.ts), without a simulator:
 * the specs, a listing, the VMs that exist and the rollback floors in, the steps out.
 */
import { describe, expect, it } from 'vitest';
import type { Evr } from '../../../protocol/evr.ts';
import type { PackageListing } from '../../../protocol/messages.ts';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import {
  installedWithoutListing,
  planInstall,
  type ExistingVm,
  type InstallPlan,
} from '../../../orchestrator/transaction/install-plan.ts';

function pkg(
  template: string,
  version: string,
  release: string,
  repoid = 'qubes-templates-itl',
): PackageListing {
  return {
    name: `qubes-template-${template}`,
    epoch: 0,
    version,
    release,
    repoid,
    downloadsize: 1,
    buildtime: 1,
    license: 'GPL',
    url: 'https://example.invalid/',
    summary: template,
    description: template,
  };
}

const LISTING = [
  pkg('fedora-41', '4.2.0', '1'),
  pkg('fedora-41', '4.2.0', '2'),
  pkg('fedora-41', '4.2.0', '3', 'qubes-templates-itl-testing'),
  pkg('debian-12', '4.2.0', '5'),
];

const NONE = new Map<string, ExistingVm>();
const NO_FLOORS = new Map<string, Evr>();

function vm(release: string, managed = true): ExistingVm {
  return { managed, epoch: 0, version: '4.2.0', release };
}

function fetched(plan: InstallPlan): string[] {
  return plan.steps.flatMap((s) => (s.kind === 'fetch' ? [`${s.template}-${s.candidate.release}`] : []));
}

function refusedWith(code: string, run: () => unknown): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(OrchestratorError);
  expect((thrown as OrchestratorError).code).toBe(code);
}

describe('planInstall', () => {
  it('install takes the latest EVR of each template a spec matches, once each', () => {
    const plan = planInstall(['fedora-41', 'debian-*', 'fedora-41'], LISTING, NONE, 'install', NO_FLOORS);
    expect(fetched(plan)).toEqual(['fedora-41-3', 'debian-12-5']);
    expect(plan.overrides).toEqual([]);
  });

  it('a pinned spec takes that version', () => {
    expect(fetched(planInstall(['fedora-41-4.2.0-1'], LISTING, NONE, 'install', NO_FLOORS))).toEqual([
      'fedora-41-1',
    ]);
  });

  it('install of an installed template is already-installed, in spec order', () => {
    const existing = new Map([['fedora-41', vm('2')]]);
    const plan = planInstall(['debian-12', 'fedora-41'], LISTING, existing, 'install', NO_FLOORS);
    expect(plan.steps.map((s) => (s.kind === 'done' ? s.outcome.status : s.template))).toEqual([
      'debian-12',
      'already-installed',
    ]);
  });

  it('install over a VM that is not that template is refused', () => {
    const existing = new Map([['fedora-41', vm('2', false)]]);
    refusedWith('template.name-taken', () =>
      planInstall(['fedora-41'], LISTING, existing, 'install', NO_FLOORS),
    );
  });

  it('upgrade, downgrade and reinstall choose against the installed EVR and ask to confirm', () => {
    const existing = new Map([['fedora-41', vm('2')]]);
    const upgrade = planInstall(['fedora-41'], LISTING, existing, 'upgrade', NO_FLOORS);
    expect(fetched(upgrade)).toEqual(['fedora-41-3']);
    expect(upgrade.overrides).toEqual(['fedora-41']);
    expect(fetched(planInstall(['fedora-41'], LISTING, existing, 'downgrade', NO_FLOORS))).toEqual([
      'fedora-41-1',
    ]);
    expect(fetched(planInstall(['fedora-41'], LISTING, existing, 'reinstall', NO_FLOORS))).toEqual([
      'fedora-41-2',
    ]);
  });

  it('nothing to move to is skipped, and nothing is confirmed', () => {
    const existing = new Map([['fedora-41', vm('3')]]);
    const plan = planInstall(['fedora-41'], LISTING, existing, 'upgrade', NO_FLOORS);
    expect(plan.steps).toEqual([
      {
        kind: 'done',
        outcome: {
          template: 'fedora-41',
          status: 'skipped',
          message: "No higher version of 'fedora-41' available, skipping...",
        },
      },
    ]);
    expect(plan.overrides).toEqual([]);
  });

  it('refuses unknown specs, templates not installed, and templates not managed', () => {
    refusedWith('template.not-found', () => planInstall(['arch-*'], LISTING, NONE, 'install', NO_FLOORS));
    refusedWith('template.not-found', () => planInstall(['fedora-41'], LISTING, NONE, 'upgrade', NO_FLOORS));
    const unmanaged = new Map([['fedora-41', vm('1', false)]]);
    refusedWith('template.not-managed', () =>
      planInstall(['fedora-41'], LISTING, unmanaged, 'reinstall', NO_FLOORS),
    );
  });

  it('refuses a package below the rollback floor before any download, except for downgrade', () => {
    const floors = new Map([['fedora-41', { epoch: 0, version: '4.2.0', release: '9' }]]);
    refusedWith('template.rollback', () => planInstall(['fedora-41'], LISTING, NONE, 'install', floors));
    const existing = new Map([['fedora-41', vm('2')]]);
    expect(fetched(planInstall(['fedora-41'], LISTING, existing, 'downgrade', floors))).toEqual([
      'fedora-41-1',
    ]);
    const atFloor = new Map([['fedora-41', { epoch: 0, version: '4.2.0', release: '3' }]]);
    expect(fetched(planInstall(['fedora-41'], LISTING, NONE, 'install', atFloor))).toEqual(['fedora-41-3']);
  });
});

describe('installedWithoutListing', () => {
  const existing = new Map([
    ['fedora-41', vm('2')],
    ['sys-net', vm('', false)],
  ]);

  it('answers an install of installed templates named plainly', () => {
    expect(installedWithoutListing(['fedora-41', 'fedora-41'], existing, 'install')).toEqual([
      expect.objectContaining({ template: 'fedora-41', status: 'already-installed' }),
    ]);
  });

  it('leaves to the listing: globs, other VMs, templates not installed, other modes', () => {
    expect(installedWithoutListing(['fedora-4*'], existing, 'install')).toBeUndefined();
    expect(installedWithoutListing(['sys-net'], existing, 'install')).toBeUndefined();
    expect(installedWithoutListing(['fedora-41', 'debian-12'], existing, 'install')).toBeUndefined();
    expect(installedWithoutListing(['fedora-41'], existing, 'reinstall')).toBeUndefined();
    expect(installedWithoutListing([], existing, 'install')).toBeUndefined();
  });
});
