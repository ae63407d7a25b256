/**
 * qvm-template's package cache (`~/.cache/qvm-template`): tmpl never stages packages there, but
 * `tmpl clean` empties it of what qvm-template left, as `qvm-template clean` does.
 */
import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'qvm-template');
}

/** The names in a cache directory that are packages or partial downloads of one; nothing else. */
export function cachedPackages(names: readonly string[]): string[] {
  return names.filter((n) => n.endsWith('.rpm') || n.endsWith('.rpm.part'));
}

/** Removes the cached packages in `dir` (none if it does not exist); returns their names. */
export async function removeCachedPackages(dir: string): Promise<string[]> {
  const packages = cachedPackages(await readdir(dir).catch(() => [] as string[]));
  for (const name of packages) await rm(path.join(dir, name), { force: true });
  return packages;
}
