/**
 * `tmpl setup` and `tmpl setup --check` as library calls: read the state, plan (worker-setup.ts),
 * make the changes (setup) or name what is missing (check), and end with a hello round trip to
 * tmpl.Worker in a disposable (worker/round-trip.ts), whose failure is classified into the same
 * stable codes.
 */
import type { Logger } from 'pino';
import { OrchestratorError } from '../errors.ts';
import { helloRoundTrip, type RoundTripOutcome } from '../worker/round-trip.ts';
import type { AdminClient } from '../qubes/admin-client.ts';
import type { QubesEnvironment } from '../qubes/environment.ts';
import {
  installInTemplateFix,
  MANAGER_TAG,
  planSetup,
  problemForStep,
  WORKER_TAG,
  workerMissing,
  type SetupOptions,
  type SetupProblem,
  type SetupState,
} from '../qubes/worker-setup.ts';
import { applySetupStep, describeStep, ownQubeName, readSetupState } from '../qubes/worker-setup-state.ts';

/** Exit status of tmpl.Worker when the template has no node (qrexec-policy/qubes-rpc/tmpl.Worker). */
export const WORKER_EXIT_NO_NODE = 69;
/** qrexec's exit statuses: refused by policy, no such service in the target. */
const QREXEC_EXIT_REFUSED = 126;
const QREXEC_EXIT_SERVICE_NOT_FOUND = 127;

export interface SetupContext {
  readonly env: QubesEnvironment;
  readonly processEnv: NodeJS.ProcessEnv;
  readonly admin: AdminClient;
  readonly log: Logger;
  readonly releasever: string;
  readonly signal?: AbortSignal;
}

export interface SetupRunOptions extends SetupOptions {
  readonly check: boolean;
  /** dom0 only: the management qube to tag `tmpl-manager` and point at the worker. */
  readonly manager?: string;
  readonly roundTripTimeoutMs?: number;
}

export interface SetupReport {
  readonly ok: boolean;
  /** What setup changed (nothing for --check, nothing on a ready system). */
  readonly changed: readonly string[];
  readonly problems: readonly SetupProblem[];
  /** The worker's version from the round trip, when it answered. */
  readonly worker?: string;
}

function policyDenied(ctx: SetupContext, self: string, what: string): SetupProblem {
  const tag = ctx.env.mode === 'vm' ? ` && qvm-tags ${self} add ${MANAGER_TAG}` : '';
  return {
    code: 'setup.policy-denied',
    message: `qrexec policy refused ${what}`,
    fix:
      `in dom0: sudo qubes-dom0-update tmpl-dom0-policy${tag} ` +
      "(and check that /etc/qubes/policy.d/30-user.policy denies none of 70-tmpl.policy's calls)",
  };
}

/** The problem a failed round trip shows, or undefined when it worked. */
export function problemForRoundTrip(
  outcome: RoundTripOutcome,
  name: string,
  based: { readonly template: string | undefined; readonly withWorker: readonly string[] },
): SetupProblem | undefined {
  if (outcome.ok) return undefined;
  const template = based.template ?? 'TEMPLATE';
  if (outcome.status === QREXEC_EXIT_REFUSED)
    return {
      code: 'setup.policy-denied',
      message: `qrexec policy refused tmpl.Worker in a disposable of ${name}`,
      fix: `in dom0: sudo qubes-dom0-update tmpl-dom0-policy && qvm-tags ${name} add ${WORKER_TAG}`,
    };
  if (outcome.status === QREXEC_EXIT_SERVICE_NOT_FOUND) return workerMissing(template, based.withWorker);
  if (outcome.status === WORKER_EXIT_NO_NODE)
    return {
      code: 'setup.node-missing',
      message: `tmpl.Worker in ${template} cannot start: Node.js is not installed there`,
      fix: installInTemplateFix(template, 'nodejs'),
    };
  const detail = outcome.workerError
    ? `: [${outcome.workerError.code}] ${outcome.workerError.message}`
    : outcome.error instanceof Error
      ? `: ${outcome.error.message}`
      : outcome.status !== undefined
        ? ` (exit ${outcome.status})`
        : '';
  return {
    code: 'setup.worker-failed',
    message: `the worker in a disposable of ${name} did not answer${detail}`,
    fix: installInTemplateFix(template, 'tmpl-worker'),
  };
}

/** A worker that answered proves its service is there, whatever the template's features say. */
function dropDisproved(problems: SetupProblem[]): void {
  for (let i = problems.length - 1; i >= 0; i--)
    if (problems[i]!.code === 'setup.worker-service-missing') problems.splice(i, 1);
}

/** Problems of the check, without duplicates. */
function checkProblems(state: SetupState, options: SetupRunOptions): SetupProblem[] {
  const plan = planSetup(state, { ...options, template: undefined, netvm: undefined, preload: undefined });
  const found = [...plan.problems];
  for (const step of plan.steps) {
    // A qube that does not exist is one problem, not one per setting it lacks.
    if (state.dvm === undefined && step.kind !== 'create' && step.vm === options.name) continue;
    const problem = problemForStep(step, state, options.name);
    if (problem && !found.some((p) => p.code === problem.code && p.message === problem.message))
      found.push(problem);
  }
  return found;
}

/** Admin API calls refused by policy become setup.policy-denied; anything else is thrown. */
async function allowed<T>(
  ctx: SetupContext,
  self: string,
  what: string,
  call: () => Promise<T>,
): Promise<T | SetupProblem> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof OrchestratorError && error.code === 'qrexec.refused')
      return policyDenied(ctx, self, what);
    throw error;
  }
}

function isProblem(value: unknown): value is SetupProblem {
  return typeof value === 'object' && value !== null && 'fix' in value && 'code' in value;
}

export async function runSetup(ctx: SetupContext, options: SetupRunOptions): Promise<SetupReport> {
  const self = await ownQubeName(ctx.env, ctx.processEnv);
  const read = await allowed(ctx, self, 'the Admin API calls tmpl setup reads with', () =>
    readSetupState(ctx.admin, {
      mode: ctx.env.mode,
      self,
      name: options.name,
      ...(options.manager ? { manager: options.manager } : {}),
    }),
  );
  if (isProblem(read)) return { ok: false, changed: [], problems: [read] };
  const state = read;
  const withWorker = state.templates.filter((t) => t.worker).map((t) => t.name);
  const roundTrip = (dispvm?: string): Promise<RoundTripOutcome> =>
    helloRoundTrip({
      env: ctx.env,
      admin: ctx.admin,
      log: ctx.log,
      placement: { kind: 'dispvm', ...(dispvm ? { dispvm } : {}) },
      releasever: ctx.releasever,
      ...(options.roundTripTimeoutMs ? { timeoutMs: options.roundTripTimeoutMs } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  if (options.check) {
    const problems = checkProblems(state, options);
    let worker: string | undefined;
    if (state.dvm !== undefined && !problems.some((p) => p.code === 'setup.name-taken')) {
      const outcome = await roundTrip(options.name);
      if (outcome.ok) {
        worker = outcome.worker;
        dropDisproved(problems);
      }
      const found = problemForRoundTrip(outcome, options.name, { template: state.dvm.template, withWorker });
      if (found && !problems.some((p) => p.code === found.code)) problems.push(found);
    }
    return { ok: problems.length === 0, changed: [], problems, ...(worker !== undefined ? { worker } : {}) };
  }
  const plan = planSetup(state, options);
  const blocking = plan.problems.filter(
    (p) => p.code === 'setup.name-taken' || (state.dvm === undefined && plan.template === undefined),
  );
  if (blocking.length > 0) return { ok: false, changed: [], problems: plan.problems };
  const changed: string[] = [];
  for (const step of plan.steps) {
    const done = await allowed(ctx, self, describeStep(step), () => applySetupStep(ctx.admin, step));
    if (isProblem(done)) return { ok: false, changed, problems: [...plan.problems, done] };
    changed.push(describeStep(step));
  }
  // The default placement: what every tmpl command will use from now on.
  const outcome = await roundTrip();
  const failed = problemForRoundTrip(outcome, options.name, {
    template: plan.template ?? state.dvm?.template,
    withWorker,
  });
  const problems = [...plan.problems];
  if (outcome.ok) dropDisproved(problems);
  if (failed && !problems.some((p) => p.code === failed.code)) problems.push(failed);
  return { ok: problems.length === 0, changed, problems, ...(outcome.ok ? { worker: outcome.worker } : {}) };
}
