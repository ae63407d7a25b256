/**
 * What a disposable costs on a real Qubes, and Qubes 4.3's preloaded disposables, so that the
 * simulator times an install as a real machine would (qubes-issues#5822: 7-20 s to start a
 * disposable; #1512: preloading).
 *
 * Costs, in milliseconds (daemon options, else the daemon's environment; all 0 by default so that
 * tests stay fast):
 *  - TMPL_SIM_DISPVM_START_MS: admin.vm.Start of a disposable (domain build, boot, qrexec agent).
 *    The qube is Transient meanwhile; other calls go on.
 *  - TMPL_SIM_DISPVM_RESUME_MS: taking a preloaded disposable (unpause, memory, netvm).
 *  - TMPL_SIM_DISPVM_CLEANUP_MS: a stopped auto_cleanup disposable's removal. As in qubesd, whose
 *    kill() awaits the domain-shutdown handlers (DispVM._auto_cleanup among them), the Kill or
 *    Shutdown reply comes after it; a qrexec `@dispvm` call sends its caller the exit status
 *    before it kills the disposable, so that caller does not wait.
 *
 * Preloading (qubes/vm/dispvm.py, qubes/vm/mix/dvmtemplate.py): the feature `preload-dispvm-max`
 * on a disposable template keeps that many disposables started and paused, named in its
 * `preload-dispvm` feature. admin.vm.CreateDisposable takes the first (waiting for it to finish
 * starting if need be), unpauses it and returns it Running; admin.vm.Start on it is then a no-op,
 * as for any running qube. `preload-dispvm-delay` (on the template, else dom0; default 3 s) after
 * one was used, a new one is started behind it. `CreateDisposable+preload` fills the gaps and
 * returns once they are started (what qubes-preload-dispvm.service does at boot; the daemon does
 * the same when it starts with `boot`). Not simulated: dom0's global `preload-dispvm-max`,
 * memory limits (qmemman), outdated preloads, the qubes.WaitForSession calls.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { exc } from './errors.ts';
import type { QubesModel } from './model.ts';
import { lookUpFeature } from './feature-lookup.ts';
import { getValue } from './properties.ts';
import type { VmState } from './state.ts';

export interface DisposableTiming {
  readonly startMs: number;
  readonly resumeMs: number;
  readonly cleanupMs: number;
}

export const DISPVM_TIMING_ENV = {
  startMs: 'TMPL_SIM_DISPVM_START_MS',
  resumeMs: 'TMPL_SIM_DISPVM_RESUME_MS',
  cleanupMs: 'TMPL_SIM_DISPVM_CLEANUP_MS',
} as const satisfies Record<keyof DisposableTiming, string>;

export function timingFromEnv(env: NodeJS.ProcessEnv = process.env): DisposableTiming {
  const read = (name: string): number => {
    const text = env[name];
    if (text === undefined || text === '') return 0;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of milliseconds`);
    return value;
  };
  return {
    startMs: read(DISPVM_TIMING_ENV.startMs),
    resumeMs: read(DISPVM_TIMING_ENV.resumeMs),
    cleanupMs: read(DISPVM_TIMING_ENV.cleanupMs),
  };
}

export type DisposableEventName =
  'created' | 'starting' | 'started' | 'paused' | 'requested' | 'unpaused' | 'used' | 'stopped' | 'removed';

/** What happened to which disposable when (Date.now()), for tests and the benchmark. */
export interface DisposableEvent {
  readonly at: number;
  readonly vm: string;
  readonly event: DisposableEventName;
  /** Set on 'created': started ahead of any request. */
  readonly preload?: boolean;
}

/** qubes.vm.dispvm.DispVM.preload_complete: resolved once a preloaded qube finished starting. */
interface Completion {
  readonly done: Promise<void>;
  resolve(): void;
}

function completion(): Completion {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return { done, resolve };
}

/** The runtime side of disposables in one daemon: costs, the event record, background work. */
export class Disposables {
  readonly events: DisposableEvent[] = [];
  /** Preloaded qubes a caller took and that are not delivered yet (DispVM.preload_requested). */
  readonly requested = new Set<string>();
  readonly completions = new Map<string, Completion>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly stop = new AbortController();

  /** Changeable while the daemon runs (the benchmark sets one per run). */
  timing: DisposableTiming;

  constructor(
    timing: DisposableTiming,
    private readonly log: Logger,
  ) {
    this.timing = timing;
  }

  record(vm: string, event: DisposableEventName, preload?: boolean): void {
    this.events.push({ at: Date.now(), vm, event, ...(preload === undefined ? {} : { preload }) });
  }

  /** Waits `ms`; throws once the daemon closes. */
  async wait(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms, undefined, { signal: this.stop.signal });
    else this.stop.signal.throwIfAborted();
  }

  completionOf(name: string): Completion {
    let found = this.completions.get(name);
    if (!found) this.completions.set(name, (found = completion()));
    return found;
  }

  /** asyncio.ensure_future: work that outlives the call that caused it. */
  background(what: string, task: () => Promise<void>): void {
    const run = task().catch((error: unknown) => {
      if (!this.stop.signal.aborted) this.log.error({ err: error }, `${what} failed`);
    });
    this.tasks.add(run);
    void run.finally(() => this.tasks.delete(run));
  }

  /** Ends the waits and background work (the daemon is stopping). */
  async close(): Promise<void> {
    this.stop.abort();
    while (this.tasks.size > 0) await Promise.all([...this.tasks]);
  }
}

/** DVMTemplateMixin.get_feat_preload */
export function preloadList(appvm: VmState): string[] {
  const value = appvm.features['preload-dispvm'] ?? '';
  return value ? value.split(' ') : [];
}

export function setPreloadList(appvm: VmState, names: readonly string[]): void {
  appvm.features['preload-dispvm'] = names.join(' ');
}

/** get_feat_preload_max, the template's own feature (dom0's global one is not simulated). */
export function preloadMax(appvm: VmState): number {
  const value = appvm.features['preload-dispvm-max'];
  return value ? Number.parseInt(value, 10) || 0 : 0;
}

/** get_feat_preload_delay: features.check_with_adminvm('preload-dispvm-delay', 3), in ms. */
export function preloadDelayMs(model: QubesModel, appvm: VmState): number {
  const value =
    appvm.features['preload-dispvm-delay'] ?? model.findVm('dom0')?.features['preload-dispvm-delay'];
  const seconds = value === undefined ? 3 : Number(value || 0);
  return (Number.isFinite(seconds) ? seconds : 0) * 1000;
}

/** DispVM.is_preload */
export function isPreload(model: QubesModel, dispvms: Disposables, vm: VmState): boolean {
  if (vm.klass !== 'DispVM') return false;
  const template = typeof vm.props.template === 'string' ? model.findVm(vm.props.template) : undefined;
  return (
    (template !== undefined && preloadList(template).includes(vm.name)) || dispvms.requested.has(vm.name)
  );
}

/** Qubes' features store booleans as '1' and ''. */
const TRUE = '1';

/** on_feature_pre_set_preload_dispvm_max: the template must be able to tell it finished booting. */
export function checkPreloadMax(
  ctx: { readonly dest: VmState; readonly model: QubesModel },
  value: string,
): void {
  // The handler belongs to DVMTemplateMixin: AppVM and StandaloneVM.
  if (ctx.dest.klass !== 'AppVM' && ctx.dest.klass !== 'StandaloneVM') return;
  const withTemplate = (feature: string): string | undefined =>
    lookUpFeature(ctx.model, ctx.dest, feature, 'template', false);
  if (!withTemplate('qrexec')) throw exc.value('Qube does not support qrexec');
  const missing = ['qubes.WaitForRunningSystem', 'qubes.WaitForSession'].filter(
    (service) => !withTemplate(`supported-rpc.${service}`),
  );
  if (missing.length > 0) throw exc.value(`Qube does not support the RPC(s) '${missing.join(', ')}'`);
  if (!/^[0-9]*$/.test(value)) throw exc.value('Invalid preload-dispvm-max value: not a digit');
}

export function isDispvmTemplate(model: QubesModel, vm: VmState): boolean {
  return getValue(model, { kind: 'vm', vm }, 'template_for_dispvms') === true;
}

export { TRUE as FEATURE_TRUE };
