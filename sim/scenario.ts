/**
 * A ready-made world for the demo, the end-to-end tests and the benchmarks: the simulator,
 * a signing key, forged template packages in a signed repository served on 127.0.0.1, and
 * the .repo file and key that point tmpl at it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { forgeRepository } from './forge/repository.ts';
import { generateSigningKey, type SigningKey } from './forge/signing-key.ts';
import { forgeTemplate, type ForgeTemplateOptions, type ForgedTemplate } from './forge/template.ts';
import { startRepoServer, type RepoServer } from './repo-server/index.ts';
import type { DisposableTiming } from './admin/disposables.ts';
import { SIM_RELEASEVER, startSimulator, type Simulator } from './simulator.ts';

/** The simulator's release: what tmpl would read on its dom0. */
export const SCENARIO_RELEASEVER = SIM_RELEASEVER;
export const SCENARIO_REPO_ID = 'qubes-templates-sim';

export type ScenarioTemplate = Omit<ForgeTemplateOptions, 'outDir' | 'signingKey'>;

export interface ScenarioOptions {
  readonly templates: readonly ScenarioTemplate[];
  /** Sign packages and repomd.xml (default true). */
  readonly signed?: boolean;
  readonly repoGpgcheck?: boolean;
  readonly dir?: string;
  readonly key?: SigningKey;
  /** Raw <package> entries added to primary.xml (sim/forge/repository.ts hostilePrimaryEntry). */
  readonly extraPrimaryEntries?: readonly string[];
  /** What disposables cost; default from TMPL_SIM_DISPVM_START_MS etc. in this process's environment. */
  readonly dispvmTiming?: DisposableTiming;
}

export interface Scenario {
  readonly dir: string;
  readonly sim: Simulator;
  readonly server: RepoServer;
  readonly key: SigningKey;
  readonly keyPath: string;
  readonly repoFile: string;
  readonly repoDir: string;
  readonly packages: readonly ForgedTemplate[];
  /** Environment for running `tmpl` against this world. */
  readonly env: Record<string, string>;
  /** Global options that select this world's repository and release. */
  readonly args: readonly string[];
  /** Forges more packages into the repository and re-signs its metadata. */
  addTemplates(templates: readonly ScenarioTemplate[]): Promise<ForgedTemplate[]>;
  close(): Promise<void>;
}

export async function createScenario(options: ScenarioOptions): Promise<Scenario> {
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'tmpl-scenario-')));
  const repoDir = path.join(dir, 'repo');
  const simDir = path.join(dir, 'sim');
  await mkdir(repoDir, { recursive: true });
  const signed = options.signed ?? true;
  const key = options.key ?? (await generateSigningKey('Template Forge'));
  const keyPath = path.join(dir, 'RPM-GPG-KEY-forge');
  await writeFile(keyPath, key.publicKeyArmored);
  const packages: ForgedTemplate[] = [];
  const tempDir = path.join(dir, 'forge-tmp');
  await mkdir(tempDir, { recursive: true });

  const forgeAll = async (templates: readonly ScenarioTemplate[]): Promise<ForgedTemplate[]> => {
    const made: ForgedTemplate[] = [];
    for (const t of templates) {
      made.push(
        await forgeTemplate({ ...t, outDir: repoDir, tempDir, ...(signed ? { signingKey: key } : {}) }),
      );
    }
    packages.push(...made);
    await forgeRepository({
      dir: repoDir,
      packages: packages.map((p) => p.path),
      ...(signed ? { signingKey: key } : {}),
      ...(options.extraPrimaryEntries ? { extraPrimaryEntries: options.extraPrimaryEntries } : {}),
    });
    return made;
  };
  await forgeAll(options.templates);

  const server = await startRepoServer({ root: repoDir });
  const sim = await startSimulator({
    dir: simDir,
    seed: true,
    ...(options.dispvmTiming ? { dispvmTiming: options.dispvmTiming } : {}),
  });
  const repoFile = path.join(dir, 'sim.repo');
  await writeFile(
    repoFile,
    [
      `[${SCENARIO_REPO_ID}]`,
      'name=Simulated template repository',
      'enabled=1',
      `baseurl=${server.url}/`,
      `gpgcheck=${signed ? 1 : 0}`,
      `repo_gpgcheck=${options.repoGpgcheck === false || !signed ? 0 : 1}`,
      `gpgkey=file://${keyPath}`,
      '',
    ].join('\n'),
  );
  const env = {
    ...sim.env,
    TMPL_LOCK_FILE: path.join(dir, 'tmpl.lock'),
    TMPL_STATE_DIR: path.join(dir, 'tmpl-state'),
  };
  return {
    dir,
    sim,
    server,
    key,
    keyPath,
    repoFile,
    repoDir,
    packages,
    env,
    args: ['--repo-files', repoFile, '--releasever', SCENARIO_RELEASEVER],
    addTemplates: forgeAll,
    async close() {
      await server.close();
      await sim.close();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
