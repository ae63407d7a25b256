/**
 * admin.vm.volume.* (qubes/api/admin.py) and the internal API the import script calls
 * (qubes/api/internal.py: internal.vm.volume.ImportBegin / ImportEnd).
 */
import { enforceArg, method, type CallContext, type MethodSpec } from './api.ts';
import { exc, UnhandledServerError } from './errors.ts';
import { ascii, isAscii, validateNumber } from './names.ts';
import type { VolumeState } from './state.ts';
import path from 'node:path';
import {
  importBegin,
  importEnd,
  isFileBacked,
  resizeVolume,
  revertVolume,
  setRevisionsToKeep,
  volumePath,
  volumeRevisions,
  volumeSize,
  volumeUsage,
} from './storage.ts';

function volumeArg(ctx: CallContext): VolumeState {
  enforceArg(ctx, Object.keys(ctx.dest.volumes), `${ctx.dest.name} volumes`);
  return ctx.dest.volumes[ctx.arg] as VolumeState;
}

const py = (b: boolean) => (b ? 'True' : 'False');

async function volumeInfo(ctx: CallContext): Promise<string> {
  const volume = volumeArg(ctx);
  const { model } = ctx;
  const pool = model.pool(volume.pool);
  const filePool = isFileBacked(pool);
  // ReflinkVolume.path is the image a running qube writes to (`<vid>-dirty.img`).
  const file =
    pool.driver === 'file-reflink'
      ? path.join(pool.dirPath, `${volume.vid}-dirty.img`)
      : filePool
        ? volumePath(model, volume)
        : '';
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
    ['path', file],
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

/** admin.vm.volume.ListSnapshots: revision ids sorted by their timestamps. */
async function volumeListSnapshots(ctx: CallContext): Promise<string> {
  const volume = volumeArg(ctx);
  const revisions = Object.entries(await volumeRevisions(ctx.model, volume));
  // Python's sorted() is stable: equal timestamps keep the driver's order.
  revisions.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return revisions.map(([id]) => `${id}\n`).join('');
}

const REVISION_CHARS = /^[A-Za-z0-9:_.-]*$/;

/** admin.vm.volume.Revert: payload a revision id (stripped), from the safe set, that exists. */
async function volumeRevert(ctx: CallContext): Promise<null> {
  const volume = volumeArg(ctx);
  if (!isAscii(ctx.payload)) throw new UnhandledServerError('UnicodeDecodeError in revision');
  const revision = ascii(ctx.payload).trim();
  if (!REVISION_CHARS.test(revision))
    throw exc.permission(
      'Revision name must be in safe set: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.',
    );
  // QubesVolumeRevisionNotFoundError is a KeyError, not a QubesException: qubesd answers nothing.
  if (!(revision in (await volumeRevisions(ctx.model, volume))))
    throw new UnhandledServerError(`QubesVolumeRevisionNotFoundError: ${revision}`);
  // ReflinkVolume.revert refuses a volume in use (is_dirty).
  if (!ctx.model.isHalted(ctx.dest)) throw exc.storage(`Cannot revert: ${volume.vid} is not cleanly stopped`);
  await revertVolume(ctx.model, volume, revision);
  return null;
}

/** admin.vm.volume.Set.revisions_to_keep: a number, -1 allowed. */
function volumeSetRevisionsToKeep(ctx: CallContext): null {
  const volume = volumeArg(ctx);
  setRevisionsToKeep(ctx.model, ctx.dest, volume, validateNumber(ctx.payload, 'revisions to keep', true));
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
  ['admin.vm.volume.ListSnapshots', method(true, false, null, false, volumeListSnapshots)],
  ['admin.vm.volume.Revert', method(true, true, null, true, volumeRevert)],
  ['admin.vm.volume.Set.revisions_to_keep', method(true, true, null, true, volumeSetRevisionsToKeep)],
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
