/**
 * admin.vm.List, admin.vm.Create*, admin.vm.CreateDisposable, admin.vm.Remove, power calls,
 * admin.label.*, admin.pool.* (qubes/api/admin.py).
 */
import { enforceArg, method, type CallContext, type MethodSpec } from './api.ts';
import { exc, QubesApiError, UnhandledServerError } from './errors.ts';
import { addNewVm, killVm, removeVm, shutdownVm, startVm, type NewVm } from './lifecycle.ts';
import { ascii, isAscii, validateLabelName, validateVmName } from './names.ts';
import { afterUnpause, fillPreload, fromAppvm } from './preload.ts';
import { getValue, getVmRef } from './properties.ts';
import type { VmClass } from './state.ts';
import { poolUsage } from './storage.ts';

const CREATABLE = ['AppVM', 'DispVM', 'StandaloneVM', 'TemplateVM'] as const;

function vmList(ctx: CallContext): string {
  const vms = ctx.dest.name === 'dom0' ? ctx.model.vms() : [ctx.dest];
  return vms.map((vm) => `${vm.name} class=${vm.klass} state=${vm.powerState} uuid=${vm.uuid}\n`).join('');
}

/** QubesAdminAPI._vm_create */
async function vmCreate(ctx: CallContext, allowPool: boolean): Promise<null> {
  const klass = ctx.endpoint as (typeof CREATABLE)[number];
  const basedOnTemplate = klass === 'AppVM' || klass === 'DispVM';
  const { model } = ctx;
  let template = null;
  let invalidTemplate = false;
  if (ctx.arg) {
    if (!basedOnTemplate) throw exc.protocol(`${klass} cannot be based on template`);
    template = model.findVm(ctx.arg) ?? null;
    invalidTemplate = template === null;
  }
  if (!isAscii(ctx.payload)) throw exc.protocol('Parameters contains non-ASCII characters');
  const seen = new Set<string>(template ? ['template'] : []);
  let name: string | undefined;
  let label: string | undefined;
  let invalidLabel = false;
  let pool: string | undefined;
  const pools: Record<string, string> = {};
  let poolError: QubesApiError | undefined;
  for (const param of ascii(ctx.payload).split(' ')) {
    const eq = param.indexOf('=');
    // Python's `key, value = param.split("=", 1)` raises ValueError, which qubesd does not catch.
    if (eq < 0) throw new UnhandledServerError('not enough values to unpack');
    const key = param.slice(0, eq);
    const value = param.slice(eq + 1);
    if (seen.has(key)) throw exc.protocol('Options must be unique');
    if (key === 'name') {
      validateVmName(value);
      name = value;
      seen.add(key);
    } else if (key === 'label') {
      validateLabelName(value, true);
      try {
        label = model.label(value).name;
      } catch {
        invalidLabel = true;
        label = value;
      }
      seen.add(key);
    } else if (key === 'pool' && allowPool) {
      if (pool !== undefined) throw exc.protocol("Option 'pool' must be unique");
      pool = value;
      if (!model.findPool(value)) poolError = exc.generic(`Unknown storage pool ${value}`);
    } else if (key.startsWith('pool:') && allowPool) {
      const volume = key.slice(5);
      const allowed = ['root', 'private', 'volatile', 'kernel'];
      if (!allowed.includes(volume)) throw exc.protocol(`Volume must be one of: ${allowed.join(', ')}`);
      if (Object.hasOwn(pools, volume)) throw exc.protocol(`Option 'pool:${volume}' must be unique`);
      pools[volume] = value;
      if (!model.findPool(value)) poolError = exc.generic(`Unknown storage pool ${value}`);
    } else {
      if (!allowPool && (key === 'pool' || key.startsWith('pool:')))
        throw exc.protocol("Pool option specified but 'allow_pool' is False");
      throw exc.protocol('Options does not match: name, label, pool, pool:');
    }
  }
  if (name === undefined) throw exc.protocol('Creation requested without key: name');
  if (label === undefined) throw exc.protocol('Creation requested without key: label');
  if (pool !== undefined && Object.keys(pools).length > 0)
    throw exc.protocol("Conflicting options specified: 'pool=', 'pool:volume='");
  if (model.findVm(name)) throw exc.vmAlreadyExists(name);
  if (invalidTemplate) throw exc.vmNotFound(ctx.arg);
  if (invalidLabel) throw exc.labelNotFound('untrusted label');
  if (poolError) throw poolError;
  const request: NewVm = { klass, name, label, template, pool, pools };
  const vm = await addNewVm(model, request);
  vm.tags.push(`created-by-${ctx.src.name}`);
  return null;
}

async function vmCreateDisposable(ctx: CallContext): Promise<string | null> {
  enforceArg(ctx, ['', 'preload'], "'', 'preload'");
  const payload = ascii(ctx.payload);
  if (ctx.payload.length > 0 && payload !== 'uuid')
    throw exc.protocol("Invalid payload, expected empty string or 'uuid'");
  const appvm =
    ctx.dest.name === 'dom0' ? getVmRef(ctx.model, { kind: 'vm', vm: ctx.src }, 'default_dispvm') : ctx.dest;
  if (!appvm) throw new UnhandledServerError("'NoneType' object has no attribute 'name'");
  if (getValue(ctx.model, { kind: 'vm', vm: appvm }, 'template_for_dispvms') !== true)
    throw exc.value(
      `template for disposable (${appvm.name}) needs to be an AppVM with template_for_dispvms=True`,
    );
  if (ctx.arg === 'preload') {
    // The preload-dispvm-start event, awaited: the reply comes once the gaps are filled.
    await fillPreload(ctx, appvm);
    return null;
  }
  const dispvm = await fromAppvm(ctx, appvm);
  for (const tag of [`created-by-${ctx.src.name}`, `disp-created-by-${ctx.src.name}`])
    if (!dispvm.tags.includes(tag)) dispvm.tags.push(tag);
  await ctx.save();
  return payload === 'uuid' ? `uuid:${dispvm.uuid}` : dispvm.name;
}

async function vmRemove(ctx: CallContext): Promise<null> {
  const vm = ctx.dest;
  if (vm.name === 'dom0') throw exc.vmInUse(vm.name, "'dom0' cannot be removed");
  if (getValue(ctx.model, { kind: 'vm', vm }, 'installed_by_rpm') === true)
    throw exc.vmInUse(vm.name, `VM installed by package manager: ${vm.name}`);
  await removeVm(ctx, vm);
  return null;
}

async function vmShutdown(ctx: CallContext): Promise<null> {
  const args = ctx.arg ? ctx.arg.split('+') : [];
  if (!args.every((a) => a === 'force' || a === 'wait'))
    throw exc.protocol('Argument must match: force, wait');
  await shutdownVm(ctx, ctx.dest, args.includes('force'));
  return null;
}

async function vmPause(ctx: CallContext): Promise<null> {
  const vm = ctx.dest;
  // AdminVM has no pause(): an AttributeError qubesd does not catch.
  if (vm.klass === 'AdminVM') throw new UnhandledServerError("'AdminVM' object has no attribute 'pause'");
  if (vm.powerState !== 'Running' && vm.powerState !== 'Transient') throw exc.vmNotRunning(vm.name);
  vm.powerState = 'Paused';
  return Promise.resolve(null);
}

async function vmUnpause(ctx: CallContext): Promise<null> {
  const vm = ctx.dest;
  if (vm.powerState !== 'Paused') throw exc.vmNotPaused(vm.name);
  vm.powerState = 'Running';
  await afterUnpause(ctx, vm);
  return null;
}

/**
 * admin.vm.CurrentState (vm_current_state): `mem=KiB mem_static_max=KiB cputime=NS power_state=S`
 * in that order. A simulated qube holds its initial memory and burns no guest CPU time.
 */
function vmCurrentState(ctx: CallContext): string {
  const vm = ctx.dest;
  const holder = { kind: 'vm', vm } as const;
  const kib = (name: string): number => {
    const value = getValue(ctx.model, holder, name);
    return typeof value === 'number' ? value * 1024 : 0;
  };
  const active = vm.klass === 'AdminVM' || ctx.model.isActive(vm);
  const state = {
    mem: active ? kib('memory') : 0,
    mem_static_max: active ? kib('maxmem') : 0,
    cputime: 0,
    power_state: vm.powerState,
  };
  return Object.entries(state)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

function labelArg(ctx: CallContext) {
  validateLabelName(ctx.arg, false);
  return ctx.model.label(ctx.arg);
}

async function poolInfo(ctx: CallContext): Promise<string> {
  enforceArg(
    ctx,
    ctx.model.state.pools.map((p) => p.name),
    'pools',
  );
  const pool = ctx.model.pool(ctx.arg);
  const config: Record<string, string> =
    pool.driver === 'file' || pool.driver === 'file-reflink'
      ? {
          dir_path: pool.dirPath,
          driver: pool.driver,
          ephemeral_volatile: pool.ephemeralVolatile ? 'True' : 'False',
          name: pool.name,
          revisions_to_keep: String(pool.revisionsToKeep),
        }
      : { dir_path: pool.dirPath, driver: pool.driver, name: pool.name };
  let out = Object.keys(config)
    .sort()
    .map((k) => `${k}=${config[k]}\n`)
    .join('');
  if (pool.size !== null) out += `size=${pool.size}\nusage=${await poolUsage(pool)}\n`;
  return out;
}

async function poolUsageDetails(ctx: CallContext): Promise<string> {
  enforceArg(
    ctx,
    ctx.model.state.pools.map((p) => p.name),
    'pools',
  );
  const pool = ctx.model.pool(ctx.arg);
  if (pool.size === null) return '';
  return `data_size=${pool.size}\ndata_usage=${await poolUsage(pool)}\n`;
}

export const VM_METHODS: ReadonlyArray<[string, MethodSpec, string?]> = [
  [
    'admin.vmclass.List',
    method(false, false, true, false, () => ['AdminVM', ...CREATABLE].map((c) => `${c}\n`).join('')),
  ],
  ['admin.vm.List', method(false, false, null, false, vmList)],
  ...CREATABLE.flatMap((klass: VmClass): Array<[string, MethodSpec, string]> => [
    [`admin.vm.Create.${klass}`, method(null, null, true, true, (ctx) => vmCreate(ctx, false)), klass],
    [`admin.vm.CreateInPool.${klass}`, method(null, null, true, true, (ctx) => vmCreate(ctx, true)), klass],
  ]),
  ['admin.vm.CreateDisposable', method(null, null, null, true, vmCreateDisposable)],
  ['admin.vm.Remove', method(false, false, null, true, vmRemove)],
  [
    'admin.vm.Start',
    method(false, false, null, true, async (ctx) => {
      await startVm(ctx, ctx.dest);
      return null;
    }),
  ],
  ['admin.vm.Shutdown', method(null, false, null, true, vmShutdown)],
  [
    'admin.vm.Kill',
    method(false, false, null, true, async (ctx) => {
      await killVm(ctx, ctx.dest);
      return null;
    }),
  ],
  ['admin.vm.Pause', method(false, false, null, true, vmPause)],
  ['admin.vm.CurrentState', method(false, false, null, false, vmCurrentState)],
  ['admin.vm.Unpause', method(false, false, null, true, vmUnpause)],
  [
    'admin.label.List',
    method(false, false, true, false, (ctx) => ctx.model.state.labels.map((l) => `${l.name}\n`).join('')),
  ],
  ['admin.label.Get', method(true, false, true, false, (ctx) => labelArg(ctx).color)],
  ['admin.label.Index', method(true, false, true, false, (ctx) => String(labelArg(ctx).index))],
  [
    'admin.pool.List',
    method(false, false, true, false, (ctx) => ctx.model.state.pools.map((p) => `${p.name}\n`).join('')),
  ],
  [
    'admin.pool.ListDrivers',
    method(
      false,
      false,
      true,
      false,
      () =>
        'file dir_path revisions_to_keep ephemeral_volatile\n' +
        'file-reflink dir_path setup_check revisions_to_keep ephemeral_volatile\n' +
        'linux-kernel dir_path\n',
    ),
  ],
  ['admin.pool.Info', method(true, false, true, false, poolInfo)],
  ['admin.pool.UsageDetails', method(true, false, true, false, poolUsageDetails)],
];
