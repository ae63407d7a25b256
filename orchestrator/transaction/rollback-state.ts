/**
 * Rollback protection: for each template, the highest EVR tmpl has installed. install, reinstall
 * and upgrade never go below it (a repository, or a mirror, serving an old validly signed
 * package cannot roll a template back); only `downgrade` may, and it moves the floor down to what
 * the admin chose.
 *
 * The state lives in the orchestrator's domain (TMPL_STATE_DIR, default /var/lib/tmpl), written
 * atomically (temporary file + rename) while the operation lock is held.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { compareEvrParts, type Evr } from '../../protocol/evr.ts';
import { OrchestratorError } from '../errors.ts';

export const DEFAULT_STATE_DIR = '/var/lib/tmpl';
const STATE_FILE = 'rollback-floor.json';

const StateSchema = z
  .object({
    version: z.literal(1),
    templates: z.record(
      z.string().max(64),
      z
        .object({
          epoch: z.number().int().min(0),
          version: z.string().max(255),
          release: z.string().max(255),
        })
        .strict(),
    ),
  })
  .strict();
type State = z.infer<typeof StateSchema>;

export function stateDir(env: NodeJS.ProcessEnv): string {
  return env.TMPL_STATE_DIR ?? DEFAULT_STATE_DIR;
}

async function load(dir: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(path.join(dir, STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, templates: {} };
    throw error;
  }
  const parsed = StateSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new OrchestratorError('template.rollback', `${path.join(dir, STATE_FILE)} is corrupt`);
  return parsed.data;
}

export async function rollbackFloor(dir: string, template: string): Promise<Evr | undefined> {
  return (await load(dir)).templates[template];
}

/** Every template's floor. */
export async function rollbackFloors(dir: string): Promise<ReadonlyMap<string, Evr>> {
  return new Map(Object.entries((await load(dir)).templates));
}

function label(evr: Evr): string {
  return `${evr.epoch}:${evr.version}-${evr.release}`;
}

/** Throws 'template.rollback' when `candidate` is below the floor (never for downgrade). */
export async function checkRollback(
  dir: string,
  template: string,
  candidate: Evr,
  mode: string,
): Promise<void> {
  const floor = await rollbackFloor(dir, template);
  if (mode === 'downgrade' || !floor) return;
  if (compareEvrParts(candidate, floor) < 0) {
    throw new OrchestratorError(
      'template.rollback',
      `refusing ${template} ${label(candidate)}: tmpl installed ${label(floor)} before; only 'tmpl downgrade' goes back`,
    );
  }
}

/** Records an installed EVR: raises the floor, or (downgrade) sets it to this EVR. */
export async function recordInstalled(dir: string, template: string, evr: Evr, mode: string): Promise<void> {
  const state = await load(dir);
  const floor = state.templates[template];
  if (mode === 'downgrade' || !floor || compareEvrParts(evr, floor) > 0) {
    state.templates[template] = { epoch: evr.epoch, version: evr.version, release: evr.release };
  }
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, STATE_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
  await rename(`${file}.tmp`, file);
}

/** Forgets a template (after remove/purge). */
export async function forgetTemplate(dir: string, template: string): Promise<void> {
  const state = await load(dir);
  if (!(template in state.templates)) return;
  delete state.templates[template];
  const file = path.join(dir, STATE_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}
