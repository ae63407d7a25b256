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
import { expect, it } from 'vitest';
import { forgeRepository, generateSigningKey } from '../../sim/forge/index.ts';
import { SCENARIO_REPO_ID, type Scenario } from '../../sim/scenario.ts';
import {
  defineAttack,
  expectSuccess,
  jsonOf,
  lyingWorker,
  runTmpl,
  RUN_TIMEOUT_MS,
  smallTemplate,
  type AttackCase,
} from '../helpers/kit/index.ts';

const NAME = 'fedora-frozen';
const OTHER = 'fedora-hidden';
const DAY = 86400;
const NOW = Math.floor(Date.now() / 1000);
const REVISION_1 = NOW - 20 * DAY;
const REVISION_2 = NOW - DAY;

let scenario: Scenario;
let stale: string;
let stateFile: string;
let repoFileText: string;
/** The recorded metadata state just before a case's run: no refusal may change it. */
let recorded: Buffer;

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

/** Copies repomd.xml and its signature from one repodata directory to another. */
async function copyRepomd(from: string, to: string): Promise<void> {
  await copyFile(path.join(from, 'repomd.xml'), path.join(to, 'repomd.xml'));
  await copyFile(path.join(from, 'repomd.xml.asc'), path.join(to, 'repomd.xml.asc'));
}

/** Case fields: remember the recorded state before the run, and find it unchanged after. */
const keepsRecord = {
  arrange: async (): Promise<void> => {
    recorded = await readFile(stateFile);
  },
  check: async (): Promise<void> => {
    expect(await readFile(stateFile)).toEqual(recorded);
  },
} as const satisfies Partial<AttackCase>;

/** The mirror serves the revision-1 repomd.xml and signature (the data files are the same bytes). */
const staleMirror = {
  ...keepsRecord,
  arrange: async (): Promise<void> => {
    await keepsRecord.arrange();
    await copyRepomd(stale, path.join(scenario.repoDir, 'repodata'));
  },
} as const satisfies Partial<AttackCase>;

const world = defineAttack(
  'tmpl-sec-freeze-',
  {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'f'), smallTemplate(OTHER, '4.2.0', '1', 'h')],
    // A key made long ago, so that old signatures verify.
    key: await generateSigningKey('Template Forge', { date: new Date((NOW - 400 * DAY) * 1000) }),
    victim: NAME,
    // Revision 1 is published and kept aside, then revision 2 lists, installs and is recorded.
    prepare: async (s, dir) => {
      scenario = s;
      stale = path.join(dir, 'stale');
      stateFile = path.join(s.dir, 'tmpl-state', 'repo-metadata.json');
      repoFileText = await readFile(s.repoFile, 'utf8');
      await mkdir(stale);
      await publish(REVISION_1);
      await copyRepomd(path.join(s.repoDir, 'repodata'), stale);
      await publish(REVISION_2);
      const list = await runTmpl(s, ['list', '--available', '--json']);
      expectSuccess(list);
      expect(jsonOf(list)).toMatchObject({ ok: true, warnings: [] });
      const install = await runTmpl(s, ['install', '--skip-start', '--json', NAME]);
      expectSuccess(install);
      expect(jsonOf(install).templates?.[0]).toMatchObject({ template: NAME, status: 'installed' });
      expect(await readFile(stateFile, 'utf8')).toContain(`"revision": "${REVISION_2}"`);
    },
    setupTimeoutMs: 3 * RUN_TIMEOUT_MS,
  },
  [
    {
      name: 'the old signed revision 1 from the mirror: list refused (metadata.rollback), nothing changed',
      argv: ['list', '--available'],
      code: 'metadata.rollback',
      ...staleMirror,
    },
    {
      name: 'the old signed revision 1 from the mirror: install refused (metadata.rollback), nothing changed',
      argv: ['install', '--skip-start', OTHER],
      code: 'metadata.rollback',
      ...staleMirror,
      check: async () => {
        await staleMirror.check();
        await publish(REVISION_2);
      },
    },
    {
      name: 'a worker that hands over the old signed repomd: refused (metadata.rollback), nothing changed',
      argv: ['install', '--skip-start', OTHER],
      code: 'metadata.rollback',
      worker: () =>
        lyingWorker(
          'stale-repomd',
          {
            TMPL_LIE_REPOMD: path.join(stale, 'repomd.xml'),
            TMPL_LIE_REPOMD_ASC: path.join(stale, 'repomd.xml.asc'),
          },
          [stale],
        ),
      ...keepsRecord,
    },
    {
      name: 'a worker that hands over a repomd it altered: refused (metadata.signature), nothing changed',
      argv: ['install', '--skip-start', OTHER],
      code: 'metadata.signature',
      worker: () => lyingWorker('forged-repomd'),
      ...keepsRecord,
    },
    {
      name: 'a signature older than metadata_max_age with metadata_max_age_action=refuse: refused, nothing changed',
      argv: ['install', '--skip-start', OTHER],
      code: 'metadata.max-age',
      arrange: async () => {
        await publish(NOW, new Date((NOW - 30 * DAY) * 1000));
        await writeFile(
          scenario.repoFile,
          `${repoFileText}metadata_max_age=2w\nmetadata_max_age_action=refuse\n`,
        );
      },
    },
  ],
);

it(
  'a signature older than metadata_max_age: a warning by default, nothing with metadata_max_age=never',
  async () => {
    const { scenario } = world.get();
    await publish(NOW, new Date((NOW - 30 * DAY) * 1000));
    await writeFile(scenario.repoFile, `${repoFileText}metadata_max_age=2w\n`);
    const json = await runTmpl(scenario, ['list', '--available', '--json']);
    expectSuccess(json);
    expect(jsonOf(json)).toMatchObject({
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
      `${repoFileText}metadata_max_age=never\nmetadata_max_age_action=refuse\n`,
    );
    const never = await runTmpl(scenario, ['list', '--available', '--json']);
    expectSuccess(never);
    expect(jsonOf(never)).toMatchObject({ ok: true, warnings: [] });
  },
  3 * RUN_TIMEOUT_MS,
);
