/**
 * Runs the two verifiers side by side on many files: the real `tmpl verify` CLI (one process for
 * all files) and `rpmkeys --checksig` exactly as qvm-template runs it (package on stdin,
 * _pkgverify_level all, _pkgverify_flags 0), with the keys imported once into a throwaway rpmdb.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { runTmplAlone } from './kit/run.ts';

export { REPO_ROOT } from './kit/run.ts';

export interface Verdict {
  ok: boolean;
  line: string;
  /** The code in `NOT OK (<code>: ...)`, if any. */
  code?: string;
}

export async function tmplVerify(
  files: readonly string[],
  keyPaths: readonly string[],
  extra: readonly string[] = [],
): Promise<{ exitCode: number; verdicts: Map<string, Verdict> }> {
  const r = await runTmplAlone(['verify', ...keyPaths.flatMap((k) => ['--keyring', k]), ...extra, ...files]);
  const verdicts = new Map<string, Verdict>();
  for (const line of r.stdout.split('\n')) {
    const file = files.find((f) => line.startsWith(`${f}: `));
    if (file === undefined) continue;
    const ok = /: digests( signatures)? OK$/.test(line);
    const code = /NOT OK \(([a-z0-9.-]+):/.exec(line)?.[1];
    verdicts.set(file, { ok, line, ...(code === undefined ? {} : { code }) });
  }
  if (verdicts.size !== files.length) {
    throw new Error(
      `tmpl verify printed ${verdicts.size} verdicts for ${files.length} files:\n${r.stdout}\n${r.stderr}`,
    );
  }
  return { exitCode: r.exitCode, verdicts };
}

export async function rpmkeysVerify(
  files: readonly string[],
  keyPaths: readonly string[],
  concurrency = 2,
  /** Digests only: rpmkeys --nosignature with _pkgverify_level digest (what --nogpgcheck means). */
  digestsOnly = false,
): Promise<Map<string, { ok: boolean; output: string }>> {
  // One rpm database per concurrent rpmkeys: two processes opening the same database contend
  // for its lock, and under load one of them fails ("cannot open Packages database"), which would
  // read as a NOT OK verdict of the reference tool.
  const dbs = await Promise.all(
    Array.from({ length: concurrency }, () => mkdtemp(path.join(tmpdir(), 'tmpl-rpmdb-'))),
  );
  const options = (db: string) => ({
    env: { LC_ALL: 'C', HOME: db },
    common: [`--dbpath=${db}`, '--define', `_tmppath ${db}`],
  });
  try {
    for (const db of dbs) {
      const { env, common } = options(db);
      for (const k of keyPaths) await execa('rpmkeys', [...common, '--import', k], { env });
    }
    const out = new Map<string, { ok: boolean; output: string }>();
    let next = 0;
    const worker = async (db: string) => {
      const { env, common } = options(db);
      while (next < files.length) {
        const file = files[next++]!;
        const r = await execa(
          'rpmkeys',
          digestsOnly
            ? [...common, '--define=_pkgverify_level digest', '--nosignature', '--checksig', '-']
            : [
                ...common,
                '--define=_pkgverify_level all',
                '--define=_pkgverify_flags 0x0',
                '--checksig',
                '-',
              ],
          { env, inputFile: file, reject: false, all: true },
        );
        const output = r.all ?? '';
        const expected = digestsOnly ? '-: digests OK' : '-: digests signatures OK';
        out.set(file, { ok: r.exitCode === 0 && output.trim() === expected, output });
      }
    };
    await Promise.all(dbs.map(worker));
    return out;
  } finally {
    await Promise.all(dbs.map((db) => rm(db, { recursive: true, force: true })));
  }
}
