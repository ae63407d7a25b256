/**
 * Attack: freeze and metadata rollback. A mirror serves an old repomd.xml, validly signed by the
 * repository's key, so that updates published since stay hidden; or a subverted worker hands
 * the orchestrator such old metadata, or metadata it altered. tmpl keeps the newest repomd it
 * accepted per repository (TMPL_STATE_DIR) and verifies every repomd itself: older metadata is
 * refused (metadata.rollback), altered metadata fails its signature (metadata.signature), and a
 * signature older than metadata_max_age is a warning, or a refusal when the .repo file says so.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { forgeRepository, generateSigningKey } from '../../sim/forge/index.ts';
import { SCENARIO_REPO_ID, type Scenario } from '../../sim/scenario.ts';
import {
  attackWorld,
  RUN_TIMEOUT_MS,
  closeAttackWorld,
  expectFailure,
  expectSuccess,
  expectUntouched,
  jsonOf,
  lyingWorker,
  runTmpl,
  setWorkerService,
  smallTemplate,
  snapshot,
  type AttackWorld,
  type Snapshot,
} from '../helpers/kit/index.ts';

const NAME = 'fedora-frozen';
const OTHER = 'fedora-hidden';
const DAY = 86400;
const NOW = Math.floor(Date.now() / 1000);
const REVISION_1 = NOW - 20 * DAY;
const REVISION_2 = NOW - DAY;

let world: AttackWorld | undefined;
let scenario: Scenario;
let stale: string;
let stateFile: string;
let installed: Snapshot;
let repoFileText: string;

/** Re-forges the repository's metadata at `revision`, its signature made at `signedAt`. */
async function publish(revision: number, signedAt?: Date): Promise<void> {
  await forgeRepository({
    dir: scenario.repoDir,
    packages: scenario.packages.map((p) => p.path),
    signingKey: scenario.key,
    revision,
    ...(signedAt ? { signatureDate: signedAt } : {}),
  });
}

/** Serves the revision-1 repomd.xml and signature (the data files are the same bytes). */
async function serveStale(): Promise<void> {
  const repodata = path.join(scenario.repoDir, 'repodata');
  await copyFile(path.join(stale, 'repomd.xml'), path.join(repodata, 'repomd.xml'));
  await copyFile(path.join(stale, 'repomd.xml.asc'), path.join(repodata, 'repomd.xml.asc'));
}

beforeAll(async () => {
  // A key made long ago, so that old signatures verify.
  const key = await generateSigningKey('Template Forge', { date: new Date((NOW - 400 * DAY) * 1000) });
  world = await attackWorld('tmpl-sec-freeze-', {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'f'), smallTemplate(OTHER, '4.2.0', '1', 'h')],
    key,
    prepare: async (s, dir) => {
      scenario = s;
      stale = path.join(dir, 'stale');
      await mkdir(stale);
      await publish(REVISION_1);
      const repodata = path.join(s.repoDir, 'repodata');
      await copyFile(path.join(repodata, 'repomd.xml'), path.join(stale, 'repomd.xml'));
      await copyFile(path.join(repodata, 'repomd.xml.asc'), path.join(stale, 'repomd.xml.asc'));
      await publish(REVISION_2);
    },
  });
  stateFile = path.join(scenario.dir, 'tmpl-state', 'repo-metadata.json');
  repoFileText = await readFile(scenario.repoFile, 'utf8');
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'revision 2 lists and installs, and is recorded',
  async () => {
    const list = await runTmpl(scenario, ['list', '--available', '--json']);
    expectSuccess(list);
    expect(JSON.parse(list.stdout)).toMatchObject({ ok: true, warnings: [] });
    const install = await runTmpl(scenario, ['install', '--skip-start', '--json', NAME]);
    expectSuccess(install);
    expect(jsonOf(install).templates?.[0]).toMatchObject({ template: NAME, status: 'installed' });
    expect(await readFile(stateFile, 'utf8')).toContain(`"revision": "${REVISION_2}"`);
    installed = await snapshot(scenario, NAME);
  },
  2 * RUN_TIMEOUT_MS,
);

it(
  'the old signed revision 1 from the mirror: list and install refused (metadata.rollback), nothing changed',
  async () => {
    const state = await readFile(stateFile);
    await serveStale();
    const list = await runTmpl(scenario, ['list', '--available', '--json']);
    expectFailure(list, { code: 'metadata.rollback' });
    expect(list.exitCode).toBe(1);
    const install = await runTmpl(scenario, ['install', '--skip-start', '--json', OTHER]);
    expectFailure(install, { code: 'metadata.rollback' });
    expect(install.exitCode).toBe(1);
    await expectUntouched(scenario, installed, NAME);
    expect(await readFile(stateFile)).toEqual(state);
    await publish(REVISION_2);
  },
  2 * RUN_TIMEOUT_MS,
);

it(
  'a worker that hands over the old signed repomd, or one it altered: refused, nothing changed',
  async () => {
    const state = await readFile(stateFile);
    try {
      await setWorkerService(
        scenario,
        lyingWorker(
          'stale-repomd',
          {
            TMPL_LIE_REPOMD: path.join(stale, 'repomd.xml'),
            TMPL_LIE_REPOMD_ASC: path.join(stale, 'repomd.xml.asc'),
          },
          [stale],
        ),
      );
      expectFailure(await runTmpl(scenario, ['install', '--skip-start', '--json', OTHER]), {
        code: 'metadata.rollback',
      });
      await setWorkerService(scenario, lyingWorker('forged-repomd'));
      expectFailure(await runTmpl(scenario, ['install', '--skip-start', '--json', OTHER]), {
        code: 'metadata.signature',
      });
    } finally {
      await setWorkerService(scenario, null);
    }
    await expectUntouched(scenario, installed, NAME);
    expect(await readFile(stateFile)).toEqual(state);
  },
  2 * RUN_TIMEOUT_MS,
);

it(
  'a signature older than metadata_max_age: a warning, a refusal with metadata_max_age_action=refuse, nothing with never',
  async () => {
    await publish(NOW, new Date((NOW - 30 * DAY) * 1000));
    await writeFile(scenario.repoFile, `${repoFileText}metadata_max_age=2w\n`);
    const json = await runTmpl(scenario, ['list', '--available', '--json']);
    expectSuccess(json);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      warnings: [
        { code: 'metadata.max-age', repoid: SCENARIO_REPO_ID, message: expect.any(String) as string },
      ],
    });
    const human = await runTmpl(scenario, ['list', '--available']);
    expectSuccess(human);
    expect(human.stderr).toContain('tmpl: warning [metadata.max-age]:');
    expect(human.stdout).toContain(OTHER);

    await writeFile(
      scenario.repoFile,
      `${repoFileText}metadata_max_age=2w\nmetadata_max_age_action=refuse\n`,
    );
    const strict = await runTmpl(scenario, ['install', '--skip-start', '--json', OTHER]);
    expectFailure(strict, { code: 'metadata.max-age' });
    expect(strict.exitCode).toBe(1);
    await expectUntouched(scenario, installed, NAME);

    await writeFile(
      scenario.repoFile,
      `${repoFileText}metadata_max_age=never\nmetadata_max_age_action=refuse\n`,
    );
    const never = await runTmpl(scenario, ['list', '--available', '--json']);
    expectSuccess(never);
    expect(JSON.parse(never.stdout)).toMatchObject({ ok: true, warnings: [] });
  },
  4 * RUN_TIMEOUT_MS,
);
