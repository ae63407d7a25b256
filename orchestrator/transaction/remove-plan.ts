/**
 * Planning `tmpl remove` and `tmpl purge`, without touching the system: which names may be
 * removed, which VMs purge takes with them, which properties must be re-pointed first, the
 * dummy template's name, and the steps in words (what --dry-run prints). The facts come from
 * remove-templates.ts, which gathers them from the Admin API and carries the plan out.
 */
import { displayLine } from '../../protocol/display-text.ts';
import { OrchestratorError } from '../errors.ts';
import { describeDependency, type Dependency } from '../qubes/vm-dependencies.ts';

/** The template VMs that users' VMs are re-pointed to are named dummy, dummy-1, dummy-2, ... */
export const DUMMY_TEMPLATE = 'dummy';

export interface RemovePlan {
  /** The templates, then (purge) what depends on them, breadth-first; removed in reverse. */
  readonly remove: readonly string[];
  /** Properties to re-point to the dummy template (disassoc/purge) or to reset (globals). */
  readonly repoint: readonly Dependency[];
  readonly dummy: string | undefined;
  readonly createDummy: boolean;
}

/**
 * Refuses, in the order the names were given: a name with no VM, a VM that is not a template,
 * and (unless force) a template neither tmpl nor qvm-template manages.
 */
export function checkRemoveTargets(
  names: readonly string[],
  vms: ReadonlyMap<string, { readonly klass: string }>,
  managed: ReadonlySet<string>,
  force: boolean,
): void {
  if (names.length === 0) throw new OrchestratorError('usage', 'at least one template name is required');
  for (const name of names) {
    const vm = vms.get(name);
    if (!vm) throw new OrchestratorError('template.not-found', `no such domain: '${displayLine(name)}'`);
    if (vm.klass !== 'TemplateVM') throw new OrchestratorError('usage', `'${name}' is not a template`);
    if (!force && !managed.has(name)) {
      throw new OrchestratorError(
        'template.not-managed',
        `'${name}' is not managed by tmpl or qvm-template; use --force to remove it anyway`,
      );
    }
  }
}

/**
 * The VMs to remove and the properties to re-point. `dependencies` holds what depends on each
 * VM in the removal (for purge, on every VM found through them). Without disassoc (or purge),
 * anything outside the removal that uses it is refused with qubes.vm-in-use.
 */
export function planRemove(options: {
  readonly names: readonly string[];
  readonly dependencies: ReadonlyMap<string, readonly Dependency[]>;
  readonly purge: boolean;
  readonly disassoc: boolean;
}): Pick<RemovePlan, 'remove' | 'repoint'> {
  const { dependencies, purge } = options;
  const dependsOn = (vm: string): readonly Dependency[] => dependencies.get(vm) ?? [];
  const remove = [...options.names];
  if (purge) {
    for (let i = 0; i < remove.length; i++) {
      for (const d of dependsOn(remove[i]!)) {
        if (d.holder !== undefined && !remove.includes(d.holder)) remove.push(d.holder);
      }
    }
  }
  const repoint = remove.flatMap((name) =>
    dependsOn(name).filter((d) => d.holder === undefined || !remove.includes(d.holder)),
  );
  if (repoint.length > 0 && !(purge || options.disassoc)) {
    throw new OrchestratorError(
      'qubes.vm-in-use',
      `cannot remove: in use by ${repoint.map(describeDependency).join(', ')}; use --disassoc to re-point them to a dummy template`,
    );
  }
  return { remove, repoint };
}

/** Whether a VM (not only global properties) must be re-pointed, so a dummy template is needed. */
export function needsDummy(repoint: readonly Dependency[]): boolean {
  return repoint.some((d) => d.holder !== undefined);
}

/**
 * The dummy names already taken, in the order to try them (an existing one marked
 * template-dummy=1 is reused), and the first free name (created if none of them is a dummy).
 */
export function dummyCandidates(existing: ReadonlySet<string>): { taken: string[]; free: string } {
  const taken: string[] = [];
  let name = DUMMY_TEMPLATE;
  for (let n = 1; existing.has(name); n++) {
    taken.push(name);
    name = `${DUMMY_TEMPLATE}-${n}`;
  }
  return { taken, free: name };
}

/** The plan in words, in the order executeRemove carries it out ("would " + each for --dry-run). */
export function describeRemovePlan(p: RemovePlan): string[] {
  const lines: string[] = [];
  if (p.createDummy) lines.push(`create template ${p.dummy} (feature template-dummy=1)`);
  for (const d of p.repoint) {
    lines.push(
      d.holder === undefined
        ? `set global property ${d.property} to ''`
        : `set ${d.property} of ${d.holder} to ${p.dummy}`,
    );
  }
  for (const name of [...p.remove].reverse()) lines.push(`remove ${name}`);
  return lines;
}
