/**
 * The simulated qubes.xml: everything qubesd knows, persisted as JSON in the state directory.
 * Written atomically (temporary file, fsync, rename) after every change, as qubesd saves
 * qubes.xml after every write call, so a restarted daemon sees exactly the last committed state.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { SimStateError } from './errors.ts';

export const STATE_FILE = 'qubes.json';
/** A state file larger than this is not one this daemon wrote. */
export const MAX_STATE_BYTES = 16 * 1024 * 1024;

export const VM_CLASSES = ['AdminVM', 'AppVM', 'DispVM', 'StandaloneVM', 'TemplateVM'] as const;
export type VmClass = (typeof VM_CLASSES)[number];
export const POWER_STATES = ['Halted', 'Transient', 'Running', 'Paused'] as const;
export type PowerState = (typeof POWER_STATES)[number];

/** A property value as stored: VM references and labels by name, Python's None as null. */
export type PropValue = string | number | boolean | null;

const propValue = z.union([z.string().max(4096), z.number().int(), z.boolean(), z.null()]);
const name = z.string().min(1).max(64);

const volumeSchema = z
  .object({
    name,
    pool: name,
    vid: z.string().min(1).max(256),
    size: z.number().int().nonnegative(),
    rw: z.boolean(),
    snapOnStart: z.boolean(),
    saveOnStop: z.boolean(),
    /** vid of the volume this one snapshots (snap_on_start), as Qubes prints `source`. */
    source: z.string().max(256).nullable(),
    revisionsToKeep: z.number().int(),
    ephemeral: z.boolean().nullable(),
  })
  .strict();
export type VolumeState = z.infer<typeof volumeSchema>;

const vmSchema = z
  .object({
    name,
    klass: z.enum(VM_CLASSES),
    qid: z.number().int().nonnegative(),
    uuid: z.string().uuid(),
    powerState: z.enum(POWER_STATES),
    props: z.record(z.string().max(64), propValue),
    features: z.record(z.string().max(256), z.string().max(65536)),
    tags: z.array(z.string().max(256)),
    volumes: z.record(z.string().max(64), volumeSchema),
  })
  .strict();
export type VmState = z.infer<typeof vmSchema>;

const poolSchema = z
  .object({
    name,
    driver: z.enum(['file', 'file-reflink', 'linux-kernel']),
    dirPath: z.string().min(1).max(4096),
    /** Capacity in bytes enforced on imports; null for a pool that reports none. */
    size: z.number().int().nonnegative().nullable(),
    revisionsToKeep: z.number().int(),
    ephemeralVolatile: z.boolean(),
  })
  .strict();
export type PoolState = z.infer<typeof poolSchema>;

const labelSchema = z
  .object({ index: z.number().int().positive(), color: z.string().max(16), name })
  .strict();
export type LabelState = z.infer<typeof labelSchema>;

export const stateSchema = z
  .object({
    version: z.literal(1),
    props: z.record(z.string().max(64), propValue),
    labels: z.array(labelSchema),
    pools: z.array(poolSchema),
    vms: z.array(vmSchema),
  })
  .strict();
export type QubesState = z.infer<typeof stateSchema>;

export function statePath(dir: string): string {
  return path.join(dir, STATE_FILE);
}

export async function loadState(dir: string): Promise<QubesState> {
  const file = statePath(dir);
  const stat = await fs.stat(file).catch((error: unknown) => {
    throw new SimStateError(`no simulator state in ${dir}: run seedState first`, {
      cause: error,
    });
  });
  if (stat.size > MAX_STATE_BYTES) throw new SimStateError(`${file}: larger than expected`);
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw new SimStateError(`${file}: not JSON`, { cause: error });
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SimStateError(`${file}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
  }
  return parsed.data;
}

export async function saveState(dir: string, state: QubesState): Promise<void> {
  const file = statePath(dir);
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(state, null, 1));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}
