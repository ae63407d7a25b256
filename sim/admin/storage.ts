/**
 * Storage of the simulated qubes: the `file` pool driver of qubes/storage/file.py. Volumes are
 * sparse files `<pool dir>/<vid>.img`; a snap_on_start volume reads its source's file; an import
 * writes `<vid>-import.img` and renames it over the volume only when the import succeeded.
 *
 * The `file-reflink` driver (qubes/storage/reflink.py) keeps the same files, and also revisions:
 * a commit (an import's end, a clear) first copies the volume to `<vid>.img.N@<ISO date>Z`
 * (revisions_to_keep of them are kept), and admin.vm.volume.Revert renames one back. A qube's
 * shutdown commits each of its save_on_stop volumes the same way (the `-dirty.img` copy a running
 * qube writes to is not modelled: the data stays as it was, but the revision is added).
 *
 * Unlike a real file pool, whose size is the host filesystem's, each simulated pool has a
 * configured capacity so that imports can run out of space the way an LVM thin pool does.
 *
 * Over 300 lines: the two pool drivers share the volume files they model.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { exc, UnhandledServerError } from './errors.ts';
import type { QubesModel } from './model.ts';
import type { PoolState, VmClass, VmState, VolumeState } from './state.ts';

const GiB = 1024 * 1024 * 1024;
/** qubes.config.defaults['private_img_size'] and ['root_img_size']. */
export const PRIVATE_IMG_SIZE = 2 * GiB;
export const ROOT_IMG_SIZE = 10 * GiB;
/** st_blocks counts 512-byte units (qubes/storage/file.py BLKSIZE). */
const BLKSIZE = 512;

export const VOLUME_NAMES = ['root', 'private', 'volatile', 'kernel'] as const;
export type VolumeName = (typeof VOLUME_NAMES)[number];

/** Drivers whose volumes are files `<pool dir>/<vid>.img`. */
export function isFileBacked(pool: PoolState): boolean {
  return pool.driver === 'file' || pool.driver === 'file-reflink';
}

function vidPrefix(klass: VmClass, name: string): string {
  return klass === 'TemplateVM' ? `vm-templates/${name}` : `appvms/${name}`;
}

export function volumePath(model: QubesModel, volume: VolumeState): string {
  const pool = model.pool(volume.pool);
  const vid = volume.snapOnStart && volume.source ? volume.source : volume.vid;
  return path.join(pool.dirPath, `${vid}.img`);
}

export function importPath(model: QubesModel, volume: VolumeState): string {
  return path.join(model.pool(volume.pool).dirPath, `${volume.vid}-import.img`);
}

async function statOrNull(file: string) {
  return fs.stat(file).catch(() => null);
}

/** FileVolume.size: the file's length when it exists, else the configured size. */
export async function volumeSize(model: QubesModel, volume: VolumeState): Promise<number> {
  if (!isFileBacked(model.pool(volume.pool))) return volume.size;
  const st = await statOrNull(volumePath(model, volume));
  return st ? st.size : volume.size;
}

/** FileVolume.usage: blocks actually allocated. */
export async function volumeUsage(model: QubesModel, volume: VolumeState): Promise<number> {
  if (!isFileBacked(model.pool(volume.pool))) return 0;
  if (volume.snapOnStart && !volume.saveOnStop) return 0;
  const st = await statOrNull(volumePath(model, volume));
  return st ? st.blocks * BLKSIZE : 0;
}

/** get_disk_usage over the pool directory. */
export async function poolUsage(pool: PoolState): Promise<number> {
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const st = await fs.lstat(full).catch(() => null);
      if (st) total += st.blocks * BLKSIZE;
      if (entry.isDirectory()) await walk(full);
    }
  };
  await walk(pool.dirPath);
  return total;
}

/** create_sparse_file: refuses to overwrite, like Python's IOError("Volume ... already exists"). */
export async function createSparseFile(file: string, size: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  let handle;
  try {
    handle = await fs.open(file, 'wx', 0o664);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UnhandledServerError(`Volume ${file} already exists`);
    throw error;
  }
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

export interface VolumePools {
  readonly root: string;
  readonly private: string;
  readonly volatile: string;
  readonly kernel: string;
}

/** The volume_config of each class (qubes/vm/{appvm,templatevm,dispvm,standalonevm}.py). */
export function initVolumes(
  vm: VmState,
  pools: VolumePools,
  kernel: string,
  template: VmState | null,
): Record<string, VolumeState> {
  const prefix = vidPrefix(vm.klass, vm.name);
  const own = (name: VolumeName, size: number, saveOnStop: boolean, pool: string): VolumeState => ({
    name,
    pool,
    vid: `${prefix}/${name}`,
    size,
    rw: true,
    snapOnStart: false,
    saveOnStop,
    source: null,
    revisionsToKeep: saveOnStop ? 1 : 0,
    ephemeral: null,
  });
  const snapshot = (name: VolumeName, of: VolumeState): VolumeState => ({
    ...own(name, of.size, false, of.pool),
    snapOnStart: true,
    source: of.vid,
  });
  const kernelVolume: VolumeState = {
    ...own('kernel', 0, false, pools.kernel),
    vid: kernel,
    rw: false,
  };
  const templateRoot = template?.volumes.root;
  const templatePrivate = template?.volumes.private;
  if (vm.klass === 'AppVM' && templateRoot) {
    return {
      root: snapshot('root', templateRoot),
      private: own('private', PRIVATE_IMG_SIZE, true, pools.private),
      volatile: own('volatile', ROOT_IMG_SIZE, false, pools.volatile),
      kernel: kernelVolume,
    };
  }
  if (vm.klass === 'DispVM' && templatePrivate) {
    const root = template.volumes.root;
    return {
      root: root
        ? { ...snapshot('root', root), source: root.source ?? root.vid }
        : own('root', ROOT_IMG_SIZE, false, pools.root),
      private: snapshot('private', templatePrivate),
      volatile: own('volatile', ROOT_IMG_SIZE + PRIVATE_IMG_SIZE, false, pools.volatile),
      kernel: kernelVolume,
    };
  }
  return {
    root: own('root', ROOT_IMG_SIZE, true, pools.root),
    private: own('private', PRIVATE_IMG_SIZE, true, pools.private),
    volatile: own('volatile', ROOT_IMG_SIZE, false, pools.volatile),
    kernel: kernelVolume,
  };
}

/** Storage.create: every file-backed volume that is not a snapshot gets its sparse file. */
export async function createOnDisk(model: QubesModel, vm: VmState): Promise<void> {
  for (const volume of Object.values(vm.volumes)) {
    if (!isFileBacked(model.pool(volume.pool)) || volume.snapOnStart) continue;
    await createSparseFile(volumePath(model, volume), volume.size);
  }
}

export async function removeFromDisk(model: QubesModel, vm: VmState): Promise<void> {
  for (const volume of Object.values(vm.volumes)) {
    const pool = model.findPool(volume.pool);
    if (!pool || !isFileBacked(pool) || volume.snapOnStart) continue;
    if (pool.driver === 'file-reflink') {
      for (const [revision, timestamp] of Object.entries(await volumeRevisions(model, volume)))
        await fs.rm(revisionPath(model, volume, revision, timestamp), { force: true });
    }
    await fs.rm(volumePath(model, volume), { force: true });
    await fs.rm(importPath(model, volume), { force: true });
    await fs.rmdir(path.dirname(volumePath(model, volume))).catch(() => undefined);
  }
}

/** FileVolume.import_data: a fresh sparse file the import script fills. */
export async function importBegin(model: QubesModel, volume: VolumeState, size: number): Promise<string> {
  if (!volume.saveOnStop) throw exc.storage(`Can not import into save_on_stop=False volume ${volume.vid}`);
  const pool = model.pool(volume.pool);
  if (pool.size !== null) {
    const free = pool.size - (await poolUsage(pool));
    if (size > free)
      throw exc.storage(
        `Not enough free space in pool ${pool.name}: ${size} bytes requested, ${Math.max(free, 0)} bytes free`,
      );
  }
  const file = importPath(model, volume);
  await createSparseFile(file, size);
  return file;
}

/** FileVolume.import_data_end: promote on success, discard otherwise. */
export async function importEnd(model: QubesModel, volume: VolumeState, success: boolean): Promise<void> {
  const file = importPath(model, volume);
  try {
    if (success) {
      if (model.pool(volume.pool).driver === 'file-reflink') await addRevision(model, volume);
      await fs.rename(file, volumePath(model, volume));
      volume.size = (await fs.stat(volumePath(model, volume))).size;
    } else {
      await fs.unlink(file);
    }
  } catch (error) {
    throw new UnhandledServerError(`import of ${volume.vid} not in progress: ${String(error)}`);
  }
}

/** FileVolume.resize */
export async function resizeVolume(model: QubesModel, volume: VolumeState, size: number): Promise<void> {
  if (!volume.rw) throw exc.storage(`Can not resize readonly volume ${volume.vid}`);
  if (volume.snapOnStart)
    throw exc.storage('Cannot resize volume based on a template - resizethe template instead');
  const file = volumePath(model, volume);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const handle = await fs.open(file, 'a');
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
  volume.size = size;
}

/** qubes.storage.isodate: seconds since the epoch as `%Y-%m-%dT%H:%M:%S` in UTC. */
function isodate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19);
}

const REVISION_RE = /^(.+)@(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)Z$/;

/**
 * Volume.revisions: revision id -> ISO date. reflink: `<vid>.img.N@DATEZ` files, by N; file:
 * `<vid>-cow.img.old` as 'old' (the simulator writes no cow files, so none).
 */
export async function volumeRevisions(
  model: QubesModel,
  volume: VolumeState,
): Promise<Record<string, string>> {
  const pool = model.pool(volume.pool);
  if (pool.driver === 'file') {
    const old = path.join(pool.dirPath, `${volume.vid}-cow.img.old`);
    const st = await statOrNull(old);
    return st ? { old: isodate(Math.floor(st.ctimeMs / 1000)) } : {};
  }
  if (pool.driver !== 'file-reflink' || volume.snapOnStart) return {};
  const clean = volumePath(model, volume);
  const prefix = `${path.basename(clean)}.`;
  const entries = await fs.readdir(path.dirname(clean)).catch(() => [] as string[]);
  const found: Array<[string, string]> = [];
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const match = REVISION_RE.exec(entry.slice(prefix.length));
    if (match && /^\d+$/.test(match[1]!)) found.push([match[1]!, match[2]!]);
  }
  found.sort((a, b) => Number(a[0]) - Number(b[0]));
  return Object.fromEntries(found);
}

function revisionPath(model: QubesModel, volume: VolumeState, revision: string, timestamp: string): string {
  return `${volumePath(model, volume)}.${revision}@${timestamp}Z`;
}

/** ReflinkVolume._add_revision then _prune_revisions: the volume as it is now becomes a revision. */
async function addRevision(model: QubesModel, volume: VolumeState): Promise<void> {
  if (volume.revisionsToKeep !== 0) {
    const clean = volumePath(model, volume);
    const st = await statOrNull(clean);
    if (st) {
      const revisions = Object.keys(await volumeRevisions(model, volume));
      const next = revisions.length > 0 ? String(Number(revisions.at(-1)) + 1) : '1';
      await copyImage(clean, revisionPath(model, volume, next, isodate(Math.floor(st.mtimeMs / 1000))));
    }
  }
  const revisions = Object.entries(await volumeRevisions(model, volume));
  const keep = volume.revisionsToKeep;
  for (const [revision, timestamp] of revisions.slice(0, keep > 0 ? -keep : undefined)) {
    if (keep < 0) break; // -1: keep every revision
    await fs.rm(revisionPath(model, volume, revision, timestamp), { force: true });
  }
}

/** ReflinkVolume.stop: each save_on_stop volume of a qube that ran is committed. */
export async function stopVolumes(model: QubesModel, vm: VmState): Promise<void> {
  for (const volume of Object.values(vm.volumes)) {
    const pool = model.findPool(volume.pool);
    if (pool?.driver !== 'file-reflink' || !volume.saveOnStop || volume.snapOnStart) continue;
    await addRevision(model, volume);
  }
}

/**
 * Storage.set_revisions_to_keep and the drivers' setters: below -1 is a QubesValueError; a file
 * volume keeps at most one (NotImplementedError: qubesd answers nothing).
 */
export function setRevisionsToKeep(model: QubesModel, vm: VmState, volume: VolumeState, value: number): void {
  if (value < -1) throw exc.value('Invalid value for revisions_to_keep');
  const enabling = value !== volume.revisionsToKeep && (value === -1 || volume.revisionsToKeep === -1);
  if (!model.isHalted(vm) && enabling) throw exc.vmNotHalted(vm.name);
  if (model.pool(volume.pool).driver === 'file' && value > 1)
    throw new UnhandledServerError('FileVolume supports maximum 1 volume revision to keep');
  volume.revisionsToKeep = value;
}

/**
 * reflink.py _copy_file: a reflink where the filesystem has them, else `cp --sparse=always` (a
 * plain copy would write out every hole of a 10 GiB root image).
 */
async function copyImage(from: string, to: string): Promise<void> {
  try {
    await promisify(execFile)('cp', ['--reflink=auto', '--sparse=always', '--', from, to]);
  } catch (error) {
    throw exc.storage(`copying ${from}: ${String(error)}`);
  }
}

/** Volume.revert: reflink renames the revision back (the current data becoming a revision). */
export async function revertVolume(model: QubesModel, volume: VolumeState, revision: string): Promise<void> {
  if (model.pool(volume.pool).driver !== 'file-reflink')
    throw new UnhandledServerError(`Volume ${volume.vid} has revert() not implemented`);
  const revisions = await volumeRevisions(model, volume);
  const timestamp = revisions[revision];
  if (timestamp === undefined)
    throw new UnhandledServerError(`revision ${revision} of ${volume.vid} not found`);
  const from = revisionPath(model, volume, revision, timestamp);
  // _add_revision without pruning, as ReflinkVolume.revert does.
  const clean = volumePath(model, volume);
  const st = await statOrNull(clean);
  if (st && volume.revisionsToKeep !== 0) {
    const ids = Object.keys(revisions);
    const next = String(Number(ids.at(-1)) + 1);
    await copyImage(clean, revisionPath(model, volume, next, isodate(Math.floor(st.mtimeMs / 1000))));
  }
  await fs.rename(from, clean);
  volume.size = (await fs.stat(clean)).size;
}
