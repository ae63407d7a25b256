/**
 * What `tmpl install|reinstall|upgrade|downgrade SPEC...` will do, decided before anything is
 * fetched: pure, from the specs, the repositories' listing, the VMs that exist and the rollback
 * floors, with qvm-template's rules (qubesadmin/tools/qvm_template.py, install()):
 *
 * - install skips a template that is installed ("already installed, skipping...") and refuses
 *   a name taken by a VM that is not that template; the other modes need it installed and
 *   managed by a package;
 * - the package is the latest EVR (install), the installed one (reinstall), the highest higher
 *   (upgrade) or the highest lower (downgrade) (repos/package-choice.ts); none: skipped;
 * - a package below the template's rollback floor is refused here already, before a download,
 *   unless the mode is downgrade (the verified header is checked against it again).
 *
 * `installedWithoutListing` answers an install of installed templates from their features
 * alone, as qvm-template does, so that no disposable is started to list the repositories.
 */
import { compareEvrParts, formatEvr, type Evr } from '../../protocol/evr.ts';
import { displayLine } from '../../protocol/display-text.ts';
import { isGlobPattern } from '../../protocol/fnmatch.ts';
import type { PackageListing } from '../../protocol/messages.ts';
import { OrchestratorError } from '../errors.ts';
import { candidates, matching, select, type Candidate } from '../repos/package-choice.ts';
import type { InstallMode } from './install-template.ts';

export interface TemplateOutcome {
  readonly template: string;
  readonly status: 'installed' | 'reinstalled' | 'upgraded' | 'downgraded' | 'already-installed' | 'skipped';
  readonly package?: string;
  readonly evr?: string;
  readonly repo?: string;
  readonly message?: string;
  readonly warnings?: readonly string[];
}

/** A VM that exists under a template's name, as its features describe it. */
export interface ExistingVm extends Evr {
  /** features['template-name'] === its name: installed from a package and not renamed. */
  readonly managed: boolean;
}

export type PlanStep =
  | { readonly kind: 'fetch'; readonly template: string; readonly candidate: Candidate }
  | { readonly kind: 'done'; readonly outcome: TemplateOutcome };

export interface InstallPlan {
  /** One step per template, in the order of the specs (then of the listing). */
  readonly steps: readonly PlanStep[];
  /** Existing templates the run replaces (reinstall, upgrade, downgrade): to confirm first. */
  readonly overrides: readonly string[];
}

function alreadyInstalled(template: string): TemplateOutcome {
  return {
    template,
    status: 'already-installed',
    message: `Template '${template}' already installed, skipping... (You may want to use the {reinstall,upgrade,downgrade} operations.)`,
  };
}

/**
 * For an install whose every spec is the plain name (no glob) of an installed template that a
 * package made: their outcomes, without the listing. Else undefined: the listing decides.
 */
export function installedWithoutListing(
  specs: readonly string[],
  existing: ReadonlyMap<string, ExistingVm>,
  mode: InstallMode,
): TemplateOutcome[] | undefined {
  if (mode !== 'install' || specs.length === 0) return undefined;
  if (!specs.every((spec) => !isGlobPattern(spec) && existing.get(spec)?.managed === true)) return undefined;
  return [...new Set(specs)].map(alreadyInstalled);
}

function refuseBelowFloor(
  template: string,
  chosen: Candidate,
  floor: Evr | undefined,
  mode: InstallMode,
): void {
  if (mode === 'downgrade' || floor === undefined || compareEvrParts(chosen, floor) >= 0) return;
  throw new OrchestratorError(
    'template.rollback',
    `refusing ${template} ${formatEvr(chosen)}: tmpl installed ${formatEvr(floor)} before; only 'tmpl downgrade' goes back`,
  );
}

/** The step for one template of the listing (`found`: its candidates matching the spec). */
function planTemplate(
  name: string,
  found: readonly Candidate[],
  vm: ExistingVm | undefined,
  mode: InstallMode,
  floor: Evr | undefined,
): PlanStep {
  if (vm !== undefined) {
    // Only the template that package made is "already installed": any other VM of that name
    // (dom0, sys-net, a template made by hand or renamed) is not this template.
    if (mode === 'install' && !vm.managed) {
      throw new OrchestratorError(
        'template.name-taken',
        `Template '${name}' cannot be installed: a VM of that name exists and is not that template`,
      );
    }
    if (mode === 'install') return { kind: 'done', outcome: alreadyInstalled(name) };
    if (!vm.managed) {
      throw new OrchestratorError(
        'template.not-managed',
        `Template '${name}' is not managed by qvm-template or tmpl`,
      );
    }
  } else if (mode !== 'install') {
    throw new OrchestratorError('template.not-found', `Template '${name}' not installed.`);
  }
  const chosen = select(found, mode, vm);
  if (!chosen) {
    const which = mode === 'upgrade' ? 'higher' : mode === 'downgrade' ? 'lower' : 'the installed';
    return {
      kind: 'done',
      outcome: {
        template: name,
        status: 'skipped',
        message: `No ${which} version of '${name}' available, skipping...`,
      },
    };
  }
  refuseBelowFloor(name, chosen, floor, mode);
  return { kind: 'fetch', template: name, candidate: chosen };
}

export function planInstall(
  specs: readonly string[],
  listing: readonly PackageListing[],
  existing: ReadonlyMap<string, ExistingVm>,
  mode: InstallMode,
  floors: ReadonlyMap<string, Evr>,
): InstallPlan {
  const all = candidates(listing);
  const steps: PlanStep[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    const found = matching(spec, all);
    if (found.length === 0)
      throw new OrchestratorError('template.not-found', `Template '${displayLine(spec)}' not found.`);
    for (const name of new Set(found.map((c) => c.templateName))) {
      if (seen.has(name)) continue;
      seen.add(name);
      const mine = found.filter((c) => c.templateName === name);
      steps.push(planTemplate(name, mine, existing.get(name), mode, floors.get(name)));
    }
  }
  const overrides = mode === 'install' ? [] : steps.flatMap((s) => (s.kind === 'fetch' ? [s.template] : []));
  return { steps, overrides };
}
