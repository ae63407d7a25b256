/**
 * Storage of the simulated qubes: the `file` pool driver of qubes/storage/file.py. Volumes are
 * sparse files `<pool dir>/<vid>.img`; a snap_on_start volume reads its source's file; an import
 * writes `<vid>-import.img` and renames it over the volume only when the import succeeded.
 *
 * Unlike a real file pool, whose size is the host filesystem's, each simulated pool has a
 * configured capacity so that imports can run out of space the way an LVM thin pool does.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
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
  if (model.pool(volume.pool).driver !== 'file') return volume.size;
  const st = await statOrNull(volumePath(model, volume));
  return st ? st.size : volume.size;
}

/** FileVolume.usage: blocks actually allocated. */
export async function volumeUsage(model: QubesModel, volume: VolumeState): Promise<number> {
  if (model.pool(volume.pool).driver !== 'file') return 0;
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
    if (model.pool(volume.pool).driver !== 'file' || volume.snapOnStart) continue;
    await createSparseFile(volumePath(model, volume), volume.size);
  }
}

export async function removeFromDisk(model: QubesModel, vm: VmState): Promise<void> {
  for (const volume of Object.values(vm.volumes)) {
    const pool = model.findPool(volume.pool);
    if (!pool || pool.driver !== 'file' || volume.snapOnStart) continue;
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
