import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import { parseRepoFile, type RepoDefinition } from '../../../orchestrator/repos/repo-config.ts';
import {
  applyRepoOperations,
  enabledRepos,
  listedRepos,
  type RepoOperation,
} from '../../../orchestrator/repos/repo-selection.ts';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'qubes-templates.repo');

let work: string;
let repos: RepoDefinition[];
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-repo-selection-'));
  await writeFile(path.join(work, 'qubes-templates.repo'), await readFile(FIXTURE));
  repos = parseRepoFile(await readFile(FIXTURE), FIXTURE, { releasever: '4.2' });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The enabled/disabled state dnf's own CLI ends with (`dnf repolist --all` with the options). */
async function dnfStates(operations: readonly RepoOperation[]): Promise<Record<string, boolean>> {
  const { stdout } = await execa(
    'dnf',
    [
      '-q',
      `--setopt=reposdir=${work}`,
      `--installroot=${path.join(work, 'root')}`,
      `--setopt=cachedir=${path.join(work, 'cache')}`,
      '--releasever=4.2',
      '--disableplugin=local',
      'repolist',
      '--all',
      ...operations.map((op) => `--${op.kind}=${op.value}`),
    ],
    { env: { LC_ALL: 'C', COLUMNS: '200' } },
  );
  const states: Record<string, boolean> = {};
  for (const line of stdout.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2) continue;
    states[fields[0]!] = fields[fields.length - 1] === 'enabled';
  }
  return states;
}

function ourStates(operations: readonly RepoOperation[]): Record<string, boolean> {
  return Object.fromEntries(applyRepoOperations(repos, operations).repos.map((r) => [r.id, r.enabled]));
}

describe('applyRepoOperations agrees with dnf', () => {
  const scenarios: RepoOperation[][] = [
    [],
    [
      { kind: 'enablerepo', value: '*testing' },
      { kind: 'disablerepo', value: 'qubes-templates-itl' },
    ],
    [
      { kind: 'disablerepo', value: '*' },
      { kind: 'enablerepo', value: 'qubes-templates-community*' },
    ],
    [
      { kind: 'enablerepo', value: 'qubes-templates-community*' },
      { kind: 'disablerepo', value: '*' },
    ],
    [
      {
        kind: 'enablerepo',
        value: 'qubes-templates-itl-testing,qubes-templates-community qubes-templates-community-testing',
      },
    ],
    [
      { kind: 'repoid', value: 'qubes-templates-c?mmunity*' },
      { kind: 'enablerepo', value: 'qubes-templates-itl-testing' },
    ],
    [{ kind: 'disablerepo', value: 'no-such-repo' }],
  ];
  it.each(scenarios.map((s) => [JSON.stringify(s), s] as const))('%s', async (_label, operations) => {
    expect(ourStates(operations)).toEqual(await dnfStates(operations));
  });
});

describe('applyRepoOperations errors and warnings', () => {
  it('refuses to enable what matches nothing, as dnf does', async () => {
    const ops: RepoOperation[] = [{ kind: 'enablerepo', value: 'no-such-repo' }];
    let error: unknown;
    try {
      applyRepoOperations(repos, ops);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OrchestratorError);
    expect((error as OrchestratorError).code).toBe('config.repo');
    await expect(dnfStates(ops)).rejects.toThrow(/Unknown repo/);
  });

  it('refuses --repoid with --disablerepo, as dnf does', async () => {
    const ops: RepoOperation[] = [
      { kind: 'repoid', value: 'qubes-templates-itl' },
      { kind: 'disablerepo', value: 'qubes-templates-community' },
    ];
    expect(() => applyRepoOperations(repos, ops)).toThrow(OrchestratorError);
    await expect(dnfStates(ops)).rejects.toThrow();
  });

  it('warns once about a disable pattern that matches nothing and keeps the rest', () => {
    const selection = applyRepoOperations(repos, [
      { kind: 'disablerepo', value: 'nope*' },
      { kind: 'disablerepo', value: 'nope*' },
    ]);
    expect(selection.warnings).toEqual(['nope*']);
    expect(enabledRepos(selection).map((r) => r.id)).toEqual(['qubes-templates-itl']);
  });
});

describe('listedRepos', () => {
  const defs = [
    { id: 'on', enabled: true },
    { id: 'off', enabled: false },
  ] as RepoDefinition[];
  const ids = (filter: { all: boolean; enabled: boolean; disabled: boolean }) =>
    listedRepos(defs, filter).map((r) => r.id);

  it('lists enabled repositories by default, --disabled the others, --all every one', () => {
    expect(ids({ all: false, enabled: false, disabled: false })).toEqual(['on']);
    expect(ids({ all: false, enabled: false, disabled: true })).toEqual(['off']);
    expect(ids({ all: false, enabled: true, disabled: true })).toEqual(['on', 'off']);
    expect(ids({ all: true, enabled: false, disabled: false })).toEqual(['on', 'off']);
  });
});
