/**
 * planSetup, problemForStep and problemForRoundTrip without a system: what `tmpl setup` changes
 * from each starting state (nothing on a ready one), and the code and fix `--check` gives for
 * each missing piece.
 */
import { describe, expect, it } from 'vitest';
import {
  planSetup,
  problemForStep,
  type SetupState,
  type WorkerDvmState,
} from '../../../orchestrator/qubes/worker-setup.ts';
import {
  problemForRoundTrip,
  WORKER_EXIT_NO_NODE,
} from '../../../orchestrator/transaction/worker-setup-run.ts';

const READY_DVM: WorkerDvmState = {
  klass: 'AppVM',
  template: 'debian-12-minimal',
  templateForDispvms: true,
  tags: ['created-by-dom0', 'tmpl-worker'],
  netvm: { value: 'sys-firewall', isDefault: true },
};

const READY: SetupState = {
  mode: 'vm',
  self: 'mgmt',
  selfDefaultDispvm: 'tmpl-dvm',
  defaultNetvm: 'sys-firewall',
  templates: [
    { name: 'debian-12-minimal', worker: true },
    { name: 'fedora-42-xfce', worker: false },
  ],
  dvm: READY_DVM,
};

const OPTIONS = { name: 'tmpl-dvm' };

function withDvm(dvm: Partial<WorkerDvmState>, state: Partial<SetupState> = {}): SetupState {
  return { ...READY, ...state, dvm: { ...READY_DVM, ...dvm } };
}

/** `--check`'s view: the plan's problems and what each step stands for. */
function checkCodes(state: SetupState): string[] {
  const plan = planSetup(state, OPTIONS);
  return [
    ...plan.problems.map((p) => p.code),
    ...plan.steps.map((s) => problemForStep(s, state, 'tmpl-dvm')?.code).filter((c) => c !== undefined),
  ];
}

describe('planSetup', () => {
  it('plans nothing on a ready system (idempotent)', () => {
    expect(planSetup(READY, OPTIONS)).toEqual({ template: 'debian-12-minimal', steps: [], problems: [] });
    expect(checkCodes(READY)).toEqual([]);
  });

  it('creates the disposable template on the template that advertises tmpl.Worker, tagged, and makes it the default', () => {
    const { dvm: _absent, ...fresh } = READY;
    const plan = planSetup({ ...fresh, selfDefaultDispvm: 'default-dvm' }, OPTIONS);
    expect(plan.problems).toEqual([]);
    expect(plan.steps).toEqual([
      { kind: 'create', vm: 'tmpl-dvm', template: 'debian-12-minimal', label: 'red' },
      { kind: 'set-property', vm: 'tmpl-dvm', property: 'template_for_dispvms', value: 'True' },
      { kind: 'add-tag', vm: 'tmpl-dvm', tag: 'tmpl-worker' },
      { kind: 'set-property', vm: 'mgmt', property: 'default_dispvm', value: 'tmpl-dvm' },
    ]);
  });

  it('fixes a half-made one: the flag, the tag, a netvm set to none, the preload feature', () => {
    const state = withDvm({ templateForDispvms: false, tags: [], netvm: { value: '', isDefault: false } });
    expect(checkCodes(state)).toEqual([
      'setup.not-disposable-template',
      'setup.dvm-untagged',
      'setup.no-network',
    ]);
    expect(planSetup(state, { ...OPTIONS, preload: 2 }).steps).toEqual([
      { kind: 'set-property', vm: 'tmpl-dvm', property: 'template_for_dispvms', value: 'True' },
      { kind: 'add-tag', vm: 'tmpl-dvm', tag: 'tmpl-worker' },
      { kind: 'reset-property', vm: 'tmpl-dvm', property: 'netvm' },
      { kind: 'set-feature', vm: 'tmpl-dvm', feature: 'preload-dispvm-max', value: '2' },
    ]);
    expect(planSetup(withDvm({ preload: '2' }), { ...OPTIONS, preload: 2 }).steps).toEqual([]);
  });

  it('--netvm sets the netvm; no netvm and no default_netvm is setup.no-network', () => {
    expect(planSetup(READY, { ...OPTIONS, netvm: 'sys-whonix' }).steps).toEqual([
      { kind: 'set-property', vm: 'tmpl-dvm', property: 'netvm', value: 'sys-whonix' },
    ]);
    const offline = planSetup(
      withDvm({ netvm: { value: '', isDefault: true } }, { defaultNetvm: '' }),
      OPTIONS,
    );
    expect(offline.problems.map((p) => [p.code, p.fix])).toEqual([
      ['setup.no-network', 'tmpl setup --netvm sys-firewall'],
    ]);
  });

  it('keeps the template of an existing one that lacks the worker, naming the package and the template that has it', () => {
    const state = withDvm({ template: 'fedora-42-xfce' });
    const plan = planSetup(state, OPTIONS);
    expect(plan.steps).toEqual([]);
    expect(plan.problems.map((p) => p.code)).toEqual(['setup.worker-service-missing']);
    expect(plan.problems[0]!.fix).toContain("qvm-run -p -u root fedora-42-xfce 'dnf install -y tmpl-worker");
    expect(plan.problems[0]!.fix).toContain('tmpl setup --template debian-12-minimal');
    expect(checkCodes(state)).toEqual(['setup.worker-service-missing']);
  });

  it('creates nothing when no template has the worker, and says how to install it', () => {
    const { dvm: _absent, ...fresh } = READY;
    const plan = planSetup({ ...fresh, templates: [{ name: 'debian-12-minimal', worker: false }] }, OPTIONS);
    expect(plan.steps).toEqual([]);
    expect(plan.problems.map((p) => p.code)).toEqual(['setup.worker-service-missing']);
    expect(plan.problems[0]!.fix).toMatch(
      /^in dom0: qvm-run -p -u root debian-12-minimal .*tmpl setup --template debian-12-minimal$/,
    );
  });

  it('--template bases it on the named template', () => {
    expect(planSetup(READY, { ...OPTIONS, template: 'fedora-42-xfce' }).steps).toEqual([
      { kind: 'set-property', vm: 'tmpl-dvm', property: 'template', value: 'fedora-42-xfce' },
    ]);
  });

  it('refuses a name that belongs to a qube of another class', () => {
    const plan = planSetup(withDvm({ klass: 'TemplateVM' }), OPTIONS);
    expect(plan.steps).toEqual([]);
    expect(plan.problems.map((p) => p.code)).toEqual(['setup.name-taken']);
  });

  it('from dom0 with --manager: tags the management qube and points its default_dispvm at the worker', () => {
    const state: SetupState = {
      ...READY,
      mode: 'dom0',
      self: 'dom0',
      manager: { name: 'mgmt', tags: [], defaultDispvm: 'default-dvm' },
    };
    expect(planSetup(state, OPTIONS).steps).toEqual([
      { kind: 'add-tag', vm: 'mgmt', tag: 'tmpl-manager' },
      { kind: 'set-property', vm: 'mgmt', property: 'default_dispvm', value: 'tmpl-dvm' },
    ]);
    expect(checkCodes(state)).toEqual(['setup.manager-untagged', 'setup.default-dispvm']);
    expect(problemForStep(planSetup(state, OPTIONS).steps[0]!, state, 'tmpl-dvm')?.fix).toBe(
      'in dom0: qvm-tags mgmt add tmpl-manager',
    );
  });
});

describe('problemForRoundTrip', () => {
  const based = { template: 'debian-12-minimal', withWorker: ['debian-12-minimal'] };
  it('reads the qrexec exit status: refused, no service, no node, anything else', () => {
    expect(
      problemForRoundTrip({ ok: true, where: 'disp1', worker: '1.0' }, 'tmpl-dvm', based),
    ).toBeUndefined();
    expect(problemForRoundTrip({ ok: false, status: 126 }, 'tmpl-dvm', based)?.code).toBe(
      'setup.policy-denied',
    );
    expect(problemForRoundTrip({ ok: false, status: 127 }, 'tmpl-dvm', based)?.code).toBe(
      'setup.worker-service-missing',
    );
    const node = problemForRoundTrip({ ok: false, status: WORKER_EXIT_NO_NODE }, 'tmpl-dvm', based);
    expect(node?.code).toBe('setup.node-missing');
    expect(node?.fix).toContain("'dnf install -y nodejs || apt-get install -y nodejs'");
    const other = problemForRoundTrip(
      { ok: false, status: 1, workerError: { code: 'worker.input', message: 'bad' } },
      'tmpl-dvm',
      based,
    );
    expect([other?.code, other?.message]).toEqual([
      'setup.worker-failed',
      'the worker in a disposable of tmpl-dvm did not answer: [worker.input] bad',
    ]);
  });
});
