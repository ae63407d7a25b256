/**
 * Reads what `tmpl setup` plans from (worker-setup.ts: SetupState) through the Admin API, and
 * makes the planned steps. From a management qube every call here goes through qrexec policy:
 * qrexec-policy/70-tmpl.policy grants exactly these, on the worker's disposable template by name
 * (`tmpl-dvm`) or by its `tmpl-worker` tag, and on the management qube itself.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { OrchestratorError } from '../errors.ts';
import type { AdminClient } from './admin-client.ts';
import type { QubesEnvironment } from './environment.ts';
import {
  PRELOAD_FEATURE,
  WORKER_FEATURE,
  type SetupState,
  type SetupStep,
  type WorkerDvmState,
} from './worker-setup.ts';

const run = promisify(execFile);

/** Where a qube reads its own name (qubes-core-qubesdb); the simulator has a stand-in. */
const DEFAULT_QUBESDB_READ = '/usr/bin/qubesdb-read';

/** The name of the qube tmpl runs in: dom0, or `qubesdb-read /name` in a VM. */
export async function ownQubeName(env: QubesEnvironment, processEnv: NodeJS.ProcessEnv): Promise<string> {
  if (env.mode === 'dom0') return 'dom0';
  const program = processEnv.TMPL_QUBESDB_READ ?? DEFAULT_QUBESDB_READ;
  try {
    const { stdout } = await run(program, ['/name'], { timeout: 10_000 });
    const name = stdout.trim();
    if (/^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/.test(name)) return name;
  } catch (cause) {
    throw new OrchestratorError('qubes.communication', `cannot read this qube's name with ${program} /name`, {
      cause,
    });
  }
  throw new OrchestratorError('qubes.communication', `${program} /name gave no qube name`);
}

async function readDvm(admin: AdminClient, name: string, klass: string): Promise<WorkerDvmState> {
  if (klass !== 'AppVM')
    return {
      klass,
      template: '',
      templateForDispvms: false,
      tags: [],
      netvm: { value: '', isDefault: true },
    };
  const netvm = await admin.getProperty(name, 'netvm');
  const preload = await admin.getFeature(name, PRELOAD_FEATURE);
  return {
    klass,
    template: (await admin.getProperty(name, 'template')).value,
    templateForDispvms: (await admin.getProperty(name, 'template_for_dispvms')).value === 'True',
    tags: await admin.listTags(name),
    netvm: { value: netvm.value, isDefault: netvm.isDefault },
    ...(preload !== undefined ? { preload } : {}),
  };
}

export interface ReadSetupStateOptions {
  readonly mode: 'dom0' | 'vm';
  readonly self: string;
  /** The worker's disposable template's name. */
  readonly name: string;
  /** dom0 only: the management qube to tag and point at the worker. */
  readonly manager?: string;
}

export async function readSetupState(
  admin: AdminClient,
  options: ReadSetupStateOptions,
): Promise<SetupState> {
  const vms = await admin.listVms();
  const templates: { name: string; worker: boolean }[] = [];
  for (const vm of vms.filter((v) => v.klass === 'TemplateVM'))
    templates.push({ name: vm.name, worker: (await admin.getFeature(vm.name, WORKER_FEATURE)) === '1' });
  const dvmEntry = vms.find((v) => v.name === options.name);
  const manager =
    options.manager !== undefined
      ? {
          name: options.manager,
          tags: await admin.listTags(options.manager),
          defaultDispvm: (await admin.getProperty(options.manager, 'default_dispvm')).value,
        }
      : undefined;
  return {
    mode: options.mode,
    self: options.self,
    selfDefaultDispvm: (await admin.getProperty(options.self, 'default_dispvm')).value,
    defaultNetvm: (await admin.getGlobalProperty('default_netvm')).value,
    templates,
    ...(dvmEntry ? { dvm: await readDvm(admin, options.name, dvmEntry.klass) } : {}),
    ...(manager ? { manager } : {}),
  };
}

/** Makes one planned change. */
export async function applySetupStep(admin: AdminClient, step: SetupStep): Promise<void> {
  switch (step.kind) {
    case 'create':
      return admin.createAppVm(step.vm, step.label, step.template);
    case 'set-property':
      return admin.setProperty(step.vm, step.property, step.value);
    case 'reset-property':
      return admin.resetProperty(step.vm, step.property);
    case 'add-tag':
      return admin.addTag(step.vm, step.tag);
    case 'set-feature':
      return admin.setFeature(step.vm, step.feature, step.value);
  }
}

/** One line per step, for the human report and --json. */
export function describeStep(step: SetupStep): string {
  switch (step.kind) {
    case 'create':
      return `create ${step.vm} (AppVM, label ${step.label}) based on ${step.template}`;
    case 'set-property':
      return `set ${step.vm} ${step.property} = ${step.value}`;
    case 'reset-property':
      return `reset ${step.vm} ${step.property} to its default`;
    case 'add-tag':
      return `tag ${step.vm} ${step.tag}`;
    case 'set-feature':
      return `set ${step.vm} feature ${step.feature} = ${step.value}`;
  }
}
