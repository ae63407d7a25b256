/**
 * The committed corpus: fuzz/corpus/<target>/<sha256 prefix>, one raw input per file, named by
 * its content so that the same input is never stored twice. Crashes go to fuzz/crashes/.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FUZZ_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.dirname(FUZZ_DIR);
export const CORPUS_DIR = path.join(FUZZ_DIR, 'corpus');
export const CRASHES_DIR = path.join(FUZZ_DIR, 'crashes');

export function inputName(input: Uint8Array): string {
  return createHash('sha256').update(input).digest('hex').slice(0, 16);
}

/** The corpus of one target, in file-name order (empty when it has none). */
export async function loadCorpus(target: string): Promise<{ name: string; bytes: Uint8Array }[]> {
  const dir = path.join(CORPUS_DIR, target);
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(
    names.map(async (name) => ({ name, bytes: new Uint8Array(await readFile(path.join(dir, name))) })),
  );
}

/** Stores an input in `dir` under its content name; returns the path. */
export async function saveInput(dir: string, input: Uint8Array, prefix = ''): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${prefix}${inputName(input)}`);
  await writeFile(file, input);
  return file;
}
