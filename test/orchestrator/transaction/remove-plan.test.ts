/**
 * Planning remove and purge without a system: which names are refused (and in which order),
 * what purge takes with it, what is re-pointed, the dummy template's name and the steps.
 */
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import type { Dependency } from '../../../orchestrator/qubes/vm-dependencies.ts';
import {
  checkRemoveTargets,
  describeRemovePlan,
  dummyCandidates,
  needsDummy,
  planRemove,
} from '../../../orchestrator/transaction/remove-plan.ts';

const VMS = new Map([
  ['fedora-42', { klass: 'TemplateVM' }],
  ['debian-13', { klass: 'TemplateVM' }],
  ['work', { klass: 'AppVM' }],
]);

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OrchestratorError);
    return (error as OrchestratorError).code;
  }
  return undefined;
}

describe('checkRemoveTargets', () => {
  it('accepts managed templates and refuses no name, no VM, a non-template, an unmanaged template', () => {
    const managed = new Set(['fedora-42']);
    expect(codeOf(() => checkRemoveTargets(['fedora-42'], VMS, managed, false))).toBeUndefined();
    expect(codeOf(() => checkRemoveTargets([], VMS, managed, false))).toBe('usage');
    expect(codeOf(() => checkRemoveTargets(['gone'], VMS, managed, false))).toBe('template.not-found');
    expect(codeOf(() => checkRemoveTargets(['work'], VMS, managed, true))).toBe('usage');
    expect(codeOf(() => checkRemoveTargets(['debian-13'], VMS, managed, false))).toBe('template.not-managed');
    expect(codeOf(() => checkRemoveTargets(['debian-13'], VMS, managed, true))).toBeUndefined();
  });

  it('reports the first refused name in the order given', () => {
    expect(codeOf(() => checkRemoveTargets(['debian-13', 'gone'], VMS, new Set(), false))).toBe(
      'template.not-managed',
    );
    expect(codeOf(() => checkRemoveTargets(['gone', 'debian-13'], VMS, new Set(), false))).toBe(
      'template.not-found',
    );
  });
});

const GRAPH = new Map<string, Dependency[]>([
  [
    'fedora-42',
    [
      { holder: undefined, property: 'default_template' },
      { holder: 'work', property: 'template' },
      { holder: 'fedora-42-dvm', property: 'template' },
    ],
  ],
  ['fedora-42-dvm', [{ holder: 'work', property: 'default_dispvm' }]],
  ['work', [{ holder: 'sys-firewall', property: 'netvm' }]],
  ['sys-firewall', []],
]);

describe('planRemove', () => {
  it('without disassoc refuses a template in use, naming every user', () => {
    let error: unknown;
    try {
      planRemove({ names: ['fedora-42'], dependencies: GRAPH, purge: false, disassoc: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OrchestratorError);
    expect((error as OrchestratorError).code).toBe('qubes.vm-in-use');
    expect((error as Error).message).toContain(
      'global property default_template, work (template), fedora-42-dvm (template)',
    );
  });

  it('with disassoc re-points every user and removes only the template', () => {
    const plan = planRemove({ names: ['fedora-42'], dependencies: GRAPH, purge: false, disassoc: true });
    expect(plan.remove).toEqual(['fedora-42']);
    expect(plan.repoint).toEqual(GRAPH.get('fedora-42'));
    expect(needsDummy(plan.repoint)).toBe(true);
  });

  it('purge takes every dependent, breadth-first, and re-points only what stays', () => {
    const plan = planRemove({ names: ['fedora-42'], dependencies: GRAPH, purge: true, disassoc: false });
    expect(plan.remove).toEqual(['fedora-42', 'work', 'fedora-42-dvm', 'sys-firewall']);
    expect(plan.repoint).toEqual([{ holder: undefined, property: 'default_template' }]);
    expect(needsDummy(plan.repoint)).toBe(false);
  });

  it('a template nothing uses is removed with nothing to re-point', () => {
    const plan = planRemove({ names: ['sys-firewall'], dependencies: GRAPH, purge: false, disassoc: false });
    expect(plan).toEqual({ remove: ['sys-firewall'], repoint: [] });
  });
});

describe('dummyCandidates', () => {
  it('is dummy when free, else the taken names in order and the first free one', () => {
    expect(dummyCandidates(new Set(['work']))).toEqual({ taken: [], free: 'dummy' });
    expect(dummyCandidates(new Set(['dummy', 'dummy-1', 'dummy-3']))).toEqual({
      taken: ['dummy', 'dummy-1'],
      free: 'dummy-2',
    });
  });
});

describe('describeRemovePlan', () => {
  it('lists the dummy, the re-pointing, then the removals dependents first', () => {
    const steps = describeRemovePlan({
      remove: ['fedora-42', 'work'],
      repoint: [
        { holder: undefined, property: 'default_template' },
        { holder: 'sys-firewall', property: 'template' },
      ],
      dummy: 'dummy-1',
      createDummy: true,
    });
    expect(steps).toEqual([
      'create template dummy-1 (feature template-dummy=1)',
      "set global property default_template to ''",
      'set template of sys-firewall to dummy-1',
      'remove work',
      'remove fedora-42',
    ]);
    expect(describeRemovePlan({ remove: ['a'], repoint: [], dummy: 'dummy', createDummy: false })).toEqual([
      'remove a',
    ]);
  });
});
