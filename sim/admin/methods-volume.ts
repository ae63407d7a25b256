/**
 * admin.vm.volume.* (qubes/api/admin.py) and the internal API the import script calls
 * (qubes/api/internal.py: internal.vm.volume.ImportBegin / ImportEnd).
 */
import { enforceArg, method, type CallContext, type MethodSpec } from './api.ts';
import { exc, UnhandledServerError } from './errors.ts';
import { ascii, isAscii, validateNumber } from './names.ts';
import type { VolumeState } from './state.ts';
import { importBegin, importEnd, resizeVolume, volumePath, volumeSize, volumeUsage } from './storage.ts';

function volumeArg(ctx: CallContext): VolumeState {
  enforceArg(ctx, Object.keys(ctx.dest.volumes), `${ctx.dest.name} volumes`);
  return ctx.dest.volumes[ctx.arg] as VolumeState;
}

const py = (b: boolean) => (b ? 'True' : 'False');

async function volumeInfo(ctx: CallContext): Promise<string> {
  const volume = volumeArg(ctx);
  const { model } = ctx;
  const filePool = model.pool(volume.pool).driver === 'file';
  const ephemeral =
    volume.ephemeral ??
    (volume.snapOnStart || volume.saveOnStop || !volume.rw
      ? false
      : model.pool(volume.pool).ephemeralVolatile);
  const info: Array<[string, string]> = [
    ['pool', volume.pool],
    ['vid', volume.vid],
    ['size', String(await volumeSize(model, volume))],
    ['usage', String(await volumeUsage(model, volume))],
    ['rw', py(volume.rw)],
    ['source', volume.source ?? ''],
    ['path', filePool ? volumePath(model, volume) : ''],
    ['save_on_stop', py(volume.saveOnStop)],
    ['snap_on_start', py(volume.snapOnStart)],
    ['revisions_to_keep', String(volume.revisionsToKeep)],
    ['ephemeral', py(ephemeral)],
  ];
  if (filePool) info.push(['is_outdated', 'False']);
  return info.map(([k, v]) => `${k}=${v}\n`).join('');
}

async function volumeResize(ctx: CallContext): Promise<null> {
  const volume = volumeArg(ctx);
  const text = ascii(ctx.payload).trim();
  const size = validateNumber(Buffer.from(text, 'latin1'), 'volume size');
  await resizeVolume(ctx.model, volume, size);
  return null;
}

/** admin.vm.volume.Clear: an import of nothing, committed. */
async function volumeClear(ctx: CallContext): Promise<null> {
  const volume = volumeArg(ctx);
  const size = await volumeSize(ctx.model, volume);
  await importBegin(ctx.model, volume, size);
  await importEnd(ctx.model, volume, true);
  return null;
}

export const VOLUME_METHODS: ReadonlyArray<[string, MethodSpec]> = [
  [
    'admin.vm.volume.List',
    method(false, false, null, false, (ctx) =>
      ctx.dest.klass === 'AdminVM'
        ? ''
        : Object.keys(ctx.dest.volumes)
            .map((v) => `${v}\n`)
            .join(''),
    ),
  ],
  ['admin.vm.volume.Info', method(true, false, null, false, volumeInfo)],
  ['admin.vm.volume.Resize', method(true, true, null, true, volumeResize)],
  ['admin.vm.volume.Clear', method(true, false, null, true, volumeClear)],
];

function internalVolumeArg(ctx: CallContext): VolumeState {
  const volume = ctx.dest.volumes[ctx.arg];
  if (!volume || !Object.hasOwn(ctx.dest.volumes, ctx.arg))
    throw exc.protocol(`Argument not in ${ctx.dest.name} volumes`);
  return volume;
}

/** internal.vm.volume.ImportBegin: payload is the new size, or empty for the current one. */
async function importBeginMethod(ctx: CallContext): Promise<string> {
  const volume = internalVolumeArg(ctx);
  if (!ctx.model.isHalted(ctx.dest)) throw exc.vmNotHalted(ctx.dest.name);
  const requested = ctx.payload.length > 0 ? validateNumber(ctx.payload, 'size of new data') : null;
  const size = requested ?? (await volumeSize(ctx.model, volume));
  const file = await importBegin(ctx.model, volume, size);
  if (file.includes(' ')) throw exc.protocol('Path contains whitespace');
  return `${size} ${file}`;
}

/** internal.vm.volume.ImportEnd: payload `ok` or `fail\n<error>`. */
async function importEndMethod(ctx: CallContext): Promise<null> {
  const volume = internalVolumeArg(ctx);
  const success = ascii(ctx.payload) === 'ok';
  await importEnd(ctx.model, volume, success);
  if (!success) {
    if (!isAscii(ctx.payload)) throw new UnhandledServerError('UnicodeDecodeError in import error');
    const text = ascii(ctx.payload);
    const nl = text.indexOf('\n');
    throw exc.generic(`Data import failed: ${nl < 0 ? '' : text.slice(nl + 1)}`);
  }
  return null;
}

export const INTERNAL_METHODS: ReadonlyArray<[string, MethodSpec]> = [
  ['internal.vm.volume.ImportBegin', method(true, null, null, true, importBeginMethod)],
  ['internal.vm.volume.ImportEnd', method(true, true, null, true, importEndMethod)],
];
