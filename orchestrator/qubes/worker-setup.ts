/**
 * What `tmpl setup` must change so that the worker runs, and what `tmpl setup --check` reports
 * as missing: a pure function of the system's state (worker-setup-state.ts reads it through the
 * Admin API), so every case is tested without a system.
 *
 * The worker's disposable template (default `tmpl-dvm`) is an AppVM with
 * `template_for_dispvms=True`, tagged `tmpl-worker` (qrexec-policy/70-tmpl.policy lets a
 * management qube run tmpl.Worker only in disposables of the caller's default_dispvm or of a
 * `tmpl-worker`-tagged template), with a network (the worker downloads), based on a TemplateVM
 * that has the tmpl-worker package. A template tells dom0 which qrexec services it has: its
 * qubes.PostInstall runs core-agent-linux's post-install script, which requests the feature
 * `supported-rpc.NAME=1` for every service in /etc/qubes-rpc, and qubesd keeps exactly those
 * (qubes-core-admin qubes/ext/supported_features.py). `supported-rpc.tmpl.Worker` is therefore
 * how tmpl knows the package is installed; the final round trip is the proof.
 * The qube tmpl runs in gets that disposable template as its `default_dispvm`: a worker started
 * without --dispvm runs in the caller's default_dispvm (orchestrator/worker/session.ts).
 */
import type { SetupProblemCode } from '../../protocol/error-codes.ts';

export const DEFAULT_WORKER_DVM = 'tmpl-dvm';
export const WORKER_TAG = 'tmpl-worker';
export const MANAGER_TAG = 'tmpl-manager';
/** Advertised by a template whose /etc/qubes-rpc has tmpl.Worker. */
export const WORKER_FEATURE = 'supported-rpc.tmpl.Worker';
/** Qubes 4.3: how many disposables of this template qubesd keeps started and paused. */
export const PRELOAD_FEATURE = 'preload-dispvm-max';
/** The label of a new worker disposable template (Qubes' own default-dvm is red). */
export const WORKER_DVM_LABEL = 'red';

/**
 * Every name setup sets (qrexec-policy/70-tmpl.policy grants exactly these on the worker's
 * disposable template, and default_dispvm on a management qube; test/sim/policy-tmpl.test.ts).
 */
export const SETUP_SETTABLE = {
  dvmProperties: ['template', 'template_for_dispvms', 'netvm'],
  dvmResetProperties: ['netvm'],
  dvmFeatures: [PRELOAD_FEATURE],
  dvmTags: [WORKER_TAG],
  managerProperties: ['default_dispvm'],
} as const;

/** The codes `tmpl setup --check` reports; their meanings are in the error catalogue. */
export type { SetupProblemCode };

export interface SetupProblem {
  readonly code: SetupProblemCode;
  readonly message: string;
  /** The command that fixes it (`in dom0:` when it must run there). */
  readonly fix: string;
}

export interface WorkerDvmState {
  readonly klass: string;
  readonly template: string;
  readonly templateForDispvms: boolean;
  readonly tags: readonly string[];
  /** '' for none. */
  readonly netvm: { readonly value: string; readonly isDefault: boolean };
  /** The preload-dispvm-max feature, when set. */
  readonly preload?: string;
}

export interface SetupState {
  readonly mode: 'dom0' | 'vm';
  /** The qube tmpl runs in ('dom0' in dom0). */
  readonly self: string;
  readonly selfDefaultDispvm: string;
  /** The global default_netvm ('' for none): a netvm left at its default is this one. */
  readonly defaultNetvm: string;
  /** Every TemplateVM, and whether it advertises tmpl.Worker. */
  readonly templates: readonly { readonly name: string; readonly worker: boolean }[];
  /** The worker's disposable template as it is now; undefined when there is no such qube. */
  readonly dvm?: WorkerDvmState;
  /** dom0's --manager qube and its tags. */
  readonly manager?: {
    readonly name: string;
    readonly tags: readonly string[];
    readonly defaultDispvm: string;
  };
}

export interface SetupOptions {
  readonly name: string;
  /** The TemplateVM to base the disposable template on (default: keep, else one with the worker). */
  readonly template?: string;
  readonly netvm?: string;
  readonly preload?: number;
}

export type SetupStep =
  | { readonly kind: 'create'; readonly vm: string; readonly template: string; readonly label: string }
  | { readonly kind: 'set-property'; readonly vm: string; readonly property: string; readonly value: string }
  | { readonly kind: 'reset-property'; readonly vm: string; readonly property: string }
  | { readonly kind: 'add-tag'; readonly vm: string; readonly tag: string }
  | { readonly kind: 'set-feature'; readonly vm: string; readonly feature: string; readonly value: string };

export interface SetupPlan {
  /** The template the disposable template is (or will be) based on; undefined when none fits. */
  readonly template?: string;
  readonly steps: readonly SetupStep[];
  /** What the steps cannot fix. */
  readonly problems: readonly SetupProblem[];
}

/** A command to run in dom0, as the fix texts write it. */
function inDom0(command: string): string {
  return `in dom0: ${command}`;
}

/** The commands that install a package in a template and let it report its services. */
export function installInTemplateFix(template: string, pkg: string): string {
  return inDom0(
    `qvm-run -p -u root ${template} 'dnf install -y ${pkg} || apt-get install -y ${pkg}' && ` +
      `qvm-run -p -u root ${template} /etc/qubes-rpc/qubes.PostInstall && qvm-shutdown --wait ${template}`,
  );
}

export function workerMissing(template: string, others: readonly string[]): SetupProblem {
  const alternative = others.find((t) => t !== template);
  return {
    code: 'setup.worker-service-missing',
    message: `template ${template} has no tmpl.Worker service (the tmpl-worker package is not installed there)`,
    fix:
      installInTemplateFix(template, 'tmpl-worker') +
      (alternative ? `; or base the worker on ${alternative}: tmpl setup --template ${alternative}` : ''),
  };
}

/**
 * --template, else the disposable template's own (never moved behind the user's back), else the
 * first that advertises tmpl.Worker. One without the feature is reported; the round trip, which
 * proves the service either way, drops that report when the worker answers (a template whose
 * features were not refreshed since the package went in).
 */
function chooseTemplate(
  state: SetupState,
  options: SetupOptions,
): { template?: string; problem?: SetupProblem } {
  const withWorker = state.templates.filter((t) => t.worker).map((t) => t.name);
  const template = options.template ?? state.dvm?.template ?? withWorker[0];
  if (template !== undefined)
    return withWorker.includes(template)
      ? { template }
      : { template, problem: workerMissing(template, withWorker) };
  const example =
    state.templates.find((t) => /minimal/.test(t.name))?.name ?? state.templates[0]?.name ?? 'TEMPLATE';
  return {
    problem: {
      code: 'setup.worker-service-missing',
      message: 'no template has the tmpl.Worker service (install the tmpl-worker package in one)',
      fix: installInTemplateFix(example, 'tmpl-worker') + `, then: tmpl setup --template ${example}`,
    },
  };
}

/** The disposable template's own settings: class, template, disposable flag, tag. */
function dvmSteps(
  state: SetupState,
  name: string,
  template: string | undefined,
  steps: SetupStep[],
): SetupProblem[] {
  const dvm = state.dvm;
  if (dvm === undefined) {
    if (template === undefined) return [];
    steps.push({ kind: 'create', vm: name, template, label: WORKER_DVM_LABEL });
    steps.push({ kind: 'set-property', vm: name, property: 'template_for_dispvms', value: 'True' });
    steps.push({ kind: 'add-tag', vm: name, tag: WORKER_TAG });
    return [];
  }
  if (dvm.klass !== 'AppVM') {
    return [
      {
        code: 'setup.name-taken',
        message: `${name} is a ${dvm.klass}, not an AppVM that can be a disposable template`,
        fix: 'tmpl setup --name tmpl-worker-dvm',
      },
    ];
  }
  if (template !== undefined && dvm.template !== template)
    steps.push({ kind: 'set-property', vm: name, property: 'template', value: template });
  if (!dvm.templateForDispvms)
    steps.push({ kind: 'set-property', vm: name, property: 'template_for_dispvms', value: 'True' });
  if (!dvm.tags.includes(WORKER_TAG)) steps.push({ kind: 'add-tag', vm: name, tag: WORKER_TAG });
  return [];
}

/** The disposables' network: --netvm, else the qube's own, else the default. */
function netvmSteps(state: SetupState, options: SetupOptions, steps: SetupStep[]): SetupProblem[] {
  const name = options.name;
  const current = state.dvm?.netvm ?? { value: state.defaultNetvm, isDefault: true };
  let effective = current.value;
  if (options.netvm !== undefined) {
    if (current.isDefault || current.value !== options.netvm)
      steps.push({ kind: 'set-property', vm: name, property: 'netvm', value: options.netvm });
    effective = options.netvm;
  } else if (current.value === '' && !current.isDefault) {
    // Set to none by hand: back to the system's default netvm.
    steps.push({ kind: 'reset-property', vm: name, property: 'netvm' });
    effective = state.defaultNetvm;
  }
  if (effective !== '') return [];
  return [
    {
      code: 'setup.no-network',
      message: `disposables of ${name} would have no network (netvm none, and no default_netvm)`,
      fix: 'tmpl setup --netvm sys-firewall',
    },
  ];
}

/** The default_dispvm of the qube tmpl runs in and of dom0's --manager, and the manager's tag. */
function callerSteps(state: SetupState, name: string, steps: SetupStep[]): void {
  if (state.selfDefaultDispvm !== name)
    steps.push({ kind: 'set-property', vm: state.self, property: 'default_dispvm', value: name });
  const manager = state.manager;
  if (manager === undefined) return;
  if (!manager.tags.includes(MANAGER_TAG))
    steps.push({ kind: 'add-tag', vm: manager.name, tag: MANAGER_TAG });
  if (manager.defaultDispvm !== name)
    steps.push({ kind: 'set-property', vm: manager.name, property: 'default_dispvm', value: name });
}

/** Everything `tmpl setup` changes, in order, and what it cannot fix. Idempotent: a ready system plans nothing. */
export function planSetup(state: SetupState, options: SetupOptions): SetupPlan {
  const steps: SetupStep[] = [];
  const chosen = chooseTemplate(state, options);
  const problems: SetupProblem[] = chosen.problem ? [chosen.problem] : [];
  const dvmProblems = dvmSteps(state, options.name, chosen.template, steps);
  problems.push(...dvmProblems);
  if (dvmProblems.length > 0 || (state.dvm === undefined && chosen.template === undefined))
    return { ...(chosen.template ? { template: chosen.template } : {}), steps, problems };
  problems.push(...netvmSteps(state, options, steps));
  if (options.preload !== undefined && state.dvm?.preload !== String(options.preload))
    steps.push({
      kind: 'set-feature',
      vm: options.name,
      feature: PRELOAD_FEATURE,
      value: String(options.preload),
    });
  callerSteps(state, options.name, steps);
  return { ...(chosen.template ? { template: chosen.template } : {}), steps, problems };
}

/** What each planned step means, as `--check` reports it when the step has not been made. */
export function problemForStep(step: SetupStep, state: SetupState, name: string): SetupProblem | undefined {
  const setup = `tmpl setup${name === DEFAULT_WORKER_DVM ? '' : ` --name ${name}`}`;
  switch (step.kind) {
    case 'create':
      return { code: 'setup.dvm-missing', message: `there is no qube ${name}`, fix: setup };
    case 'add-tag':
      return step.tag === WORKER_TAG
        ? { code: 'setup.dvm-untagged', message: `${name} lacks the ${WORKER_TAG} tag`, fix: setup }
        : {
            code: 'setup.manager-untagged',
            message: `${step.vm} lacks the ${MANAGER_TAG} tag`,
            fix: inDom0(`qvm-tags ${step.vm} add ${MANAGER_TAG}`),
          };
    case 'set-property':
    case 'reset-property':
      if (step.property === 'template_for_dispvms')
        return {
          code: 'setup.not-disposable-template',
          message: `${name} has template_for_dispvms=False`,
          fix: setup,
        };
      if (step.property === 'default_dispvm')
        return {
          code: 'setup.default-dispvm',
          message: `${step.vm}'s default_dispvm is not ${name}`,
          fix: step.vm === state.self ? setup : inDom0(`qvm-prefs ${step.vm} default_dispvm ${name}`),
        };
      if (step.property === 'netvm' && step.kind === 'reset-property')
        return { code: 'setup.no-network', message: `${name} has netvm none`, fix: setup };
      return undefined;
    case 'set-feature':
      return undefined;
  }
}
