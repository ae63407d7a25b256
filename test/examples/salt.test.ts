/**
 * The Salt example (examples/salt/): every state and top file renders (the few Jinja forms over
 * the pillar) and parses as YAML; every state calls a known module.function with arguments it
 * takes, every requisite names a state that exists, and every command is a tmpl command line
 * that tmpl's own parser accepts. The idempotence check of tmpl.templates runs for real against
 * `tmpl info --installed --machine-readable-json` in the simulator, and the install it guards
 * exits 0 with `already-installed` for an installed template.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScenario, type Scenario } from '../../sim/scenario.ts';
import { flag, value } from '../../orchestrator/cli/arguments.ts';
import { OrchestratorError } from '../../orchestrator/errors.ts';
import {
  tmplEnv,
  managedFeatures,
  Qubes,
  REPO_ROOT,
  RUN_TIMEOUT_MS,
  TMPL_BIN,
} from '../helpers/kit/index.ts';
import {
  checkRequisites,
  commandLines,
  parseTmpl,
  parseYaml,
  pipelineStages,
  renderJinja,
  stateCalls,
  type Pillar,
} from '../helpers/salt-states.ts';

const SALT = path.join(REPO_ROOT, 'examples/salt');
const STATES = path.join(SALT, 'tmpl');
const KiB = 1024;

async function text(file: string): Promise<string> {
  return readFile(path.join(SALT, file), 'utf8');
}

const examplePillar = async (): Promise<Pillar> =>
  parseYaml(await text('pillar/tmpl.sls'), 'pillar') as Pillar;

async function stateFiles(): Promise<string[]> {
  return (await readdir(STATES)).filter((f) => f.endsWith('.sls')).sort();
}

async function rendered(file: string, pillar: Pillar, keysRead?: Set<string>): Promise<unknown> {
  return parseYaml(renderJinja(await text(file), pillar, keysRead), file);
}

describe('the states render and are well formed', () => {
  it('every state file, with the example pillar and with none (the defaults)', async () => {
    const pillar = await examplePillar();
    const files = await stateFiles();
    expect(files).toEqual(['manager.sls', 'policy.sls', 'templates.sls', 'worker-package.sls', 'worker.sls']);
    const keysRead = new Set<string>();
    for (const file of files) {
      for (const p of [pillar, {}]) {
        const calls = stateCalls(await rendered(`tmpl/${file}`, p, keysRead), file);
        checkRequisites(calls, file, SALT);
        commandLines(calls);
      }
    }
    // Every pillar key a state reads is in the example pillar, and the example sets no other.
    const leaves = (value: unknown, prefix: string): string[] =>
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}:${k}` : k))
        : [prefix];
    expect([...keysRead].sort()).toEqual(leaves(pillar, '').sort());
  });

  it('the top files name only state files that exist', async () => {
    const exists = async (file: string): Promise<boolean> =>
      readFile(file).then(
        () => true,
        () => false,
      );
    for (const [file, dir] of [
      ['top.sls', SALT],
      ['pillar/top.sls', path.join(SALT, 'pillar')],
    ] as const) {
      const top = parseYaml(await text(file), file) as { base: Record<string, unknown> };
      expect(Object.keys(top)).toEqual(['base']);
      for (const list of Object.values(top.base)) {
        expect(Array.isArray(list)).toBe(true);
        for (const sls of list as string[])
          expect(await exists(path.join(dir, ...sls.split('.')) + '.sls'), sls).toBe(true);
      }
    }
  });

  it('tmpl.worker makes a disposable template tagged tmpl-worker from the pillar', async () => {
    const [call] = stateCalls(await rendered('tmpl/worker.sls', await examplePillar()), 'worker.sls');
    expect(call?.fn).toBe('qvm.vm');
    expect(call?.args).toMatchObject({
      name: 'tmpl-dvm',
      present: [{ template: 'fedora-42-minimal' }, { label: 'red' }],
      prefs: expect.arrayContaining([{ template_for_dispvms: true }]),
      tags: [{ add: ['tmpl-worker'] }],
    });
  });

  it("tmpl.policy installs the policy file tmpl ships, 0664 root:qubes, under the shipped file's name", async () => {
    const [call] = stateCalls(await rendered('tmpl/policy.sls', {}), 'policy.sls');
    expect(call?.fn).toBe('file.managed');
    const name = String(call?.args.name);
    expect(path.dirname(name)).toBe('/etc/qubes/policy.d');
    expect(String(call?.args.source)).toBe(`salt://tmpl/files/${path.basename(name)}`);
    expect(call?.args).toMatchObject({ user: 'root', group: 'qubes', mode: '0664' });
    await expect(readFile(path.join(REPO_ROOT, 'qrexec-policy', path.basename(name)))).resolves.toBeDefined();
  });

  it('tmpl.templates: one install per pillar template, guarded by info --installed --machine-readable-json', async () => {
    const pillar = await examplePillar();
    const names = (pillar.tmpl as { templates: string[] }).templates;
    const lines = commandLines(stateCalls(await rendered('tmpl/templates.sls', pillar), 'templates.sls'));
    expect(lines.map((l) => `${l.id} ${l.key}`)).toEqual(
      names.flatMap((n) => [`tmpl-template-${n} name`, `tmpl-template-${n} unless`]),
    );
    for (const name of names) {
      const install = lines.find((l) => l.id === `tmpl-template-${name}` && l.key === 'name')!;
      expect(install.stages).toHaveLength(1);
      const args = parseTmpl(install.stages[0]!.slice(1));
      expect([args.command, args.positionals, flag(args, 'quiet'), flag(args, 'json')]).toEqual([
        'install',
        [name],
        true,
        true,
      ]);
      expect(value(args, 'dispvm')).toBe('tmpl-dvm');
      const check = lines.find((l) => l.id === `tmpl-template-${name}` && l.key === 'unless')!;
      const info = parseTmpl(check.stages[0]!.slice(1));
      expect([
        info.command,
        info.positionals,
        flag(info, 'installed'),
        flag(info, 'machine-readable-json'),
      ]).toEqual(['info', [name], true, true]);
    }
  });
});

describe('the checks fail on broken states', () => {
  const check = (yaml: string): void => {
    const calls = stateCalls(parseYaml(yaml, 'broken.sls'), 'broken.sls');
    checkRequisites(calls, 'broken.sls', SALT);
    commandLines(calls);
  };

  it('a misspelt function, argument or requisite, a tmpl option typo, other Jinja', () => {
    check('a:\n  cmd.run:\n    - name: tmpl install --quiet x\n');
    expect(() => check('a:\n  cmd.runn:\n    - name: tmpl list\n')).toThrow(/unknown function cmd.runn/);
    expect(() => check('a:\n  cmd.run:\n    - nmae: tmpl list\n')).toThrow(/no argument nmae/);
    expect(() => check('a:\n  cmd.run:\n    - name: tmpl list\n    - require:\n      - qvm: b\n')).toThrow(
      /no such state/,
    );
    expect(() =>
      check('a:\n  cmd.run:\n    - name: tmpl list\n    - require:\n      - sls: tmpl.nothing\n'),
    ).toThrow(/no .*nothing\.sls/);
    // tmpl's own parser refuses the option typo: its usage error, as the CLI would exit 2.
    const typo = (() => {
      try {
        check('a:\n  cmd.run:\n    - name: tmpl install --quite x\n');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(typo).toBeInstanceOf(OrchestratorError);
    expect((typo as OrchestratorError).code).toBe('usage');
    expect(() => check('a:\n  cmd.run:\n    - name: tmpl instal x\n')).toThrow(/not a tmpl command/);
    expect(() => check('a:\n  cmd.run:\n    - name: tmpl list; rm -rf /\n')).toThrow(/shell syntax/);
    expect(() => check('a:\n  cmd.run:\n    - name: tmpl list\na:\n  cmd.run: []\n')).toThrow(/unique/i);
    expect(() => renderJinja("{{ pillar['x'] }}", {})).toThrow(/Jinja left/);
    expect(() => renderJinja("{{ salt['pillar.get']('x', 'a') }}", { x: 'a b' })).toThrow(/not a VM name/);
    expect(pipelineStages("a 'b | c' | d")).toEqual([['a', 'b | c'], ['d']]);
  });
});

describe('the idempotence check and the install it guards, run against the simulator', () => {
  let scenario: Scenario;
  let bin: string;

  beforeAll(async () => {
    scenario = await createScenario({
      templates: [
        {
          name: 'fedora-42-xfce',
          version: '4.3.0',
          release: '202601010000',
          image: { size: 256 * KiB, extents: [{ offset: 0, length: 16 * KiB, seed: 'salt' }] },
        },
      ],
    });
    const qubes = Qubes.of(scenario);
    await qubes.createTemplate(
      'fedora-42-xfce',
      managedFeatures('fedora-42-xfce', { version: '4.3.0', release: '202601010000' }),
    );
    // A VM of that name which is not a template tmpl manages: the check says "not installed".
    await qubes.createTemplate('my-custom-template');
    // `tmpl` on PATH, as the package installs it, pointed at the scenario's repository.
    bin = await mkdtemp(path.join(os.tmpdir(), 'tmpl-salt-bin-'));
    await mkdir(bin, { recursive: true });
    const quoted = [process.execPath, TMPL_BIN].map((w) => `'${w}'`).join(' ');
    const extra = scenario.args.map((w) => `'${w}'`).join(' ');
    await writeFile(path.join(bin, 'tmpl'), `#!/bin/sh\nexec ${quoted} "$@" ${extra}\n`);
    await chmod(path.join(bin, 'tmpl'), 0o755);
  }, RUN_TIMEOUT_MS);

  afterAll(async () => {
    await scenario?.close();
  });

  /** Runs a state's command line as Salt's cmd module does: /bin/sh -c. */
  const sh = (command: string) =>
    execa('/bin/sh', ['-c', command], {
      env: tmplEnv(scenario, { PATH: `${bin}:${process.env.PATH ?? ''}` }),
      extendEnv: false,
      reject: false,
      timeout: RUN_TIMEOUT_MS,
      stdin: 'ignore',
    });

  it(
    'the check passes only for an installed template; install of it exits 0, already-installed',
    async () => {
      const pillar = {
        tmpl: {
          worker: { name: 'default-dvm' },
          templates: ['fedora-42-xfce', 'debian-13-xfce', 'my-custom-template'],
        },
      };
      const calls = stateCalls(await rendered('tmpl/templates.sls', pillar), 'templates.sls');
      const exits: Record<string, number | undefined> = {};
      for (const call of calls) exits[call.id] = (await sh(String(call.args.unless))).exitCode;
      expect(exits).toEqual({
        'tmpl-template-fedora-42-xfce': 0,
        'tmpl-template-debian-13-xfce': 1,
        'tmpl-template-my-custom-template': 1,
      });
      // Why the check fails for a template that is not installed: info prints nothing, exits 2.
      const info = await sh('tmpl info --installed --machine-readable-json debian-13-xfce');
      expect([info.exitCode, info.stdout]).toEqual([2, '']);
      const install = await sh(String(calls[0]!.args.name));
      expect(install.exitCode, install.stderr).toBe(0);
      const result = JSON.parse(install.stdout.trim().split('\n').at(-1)!) as unknown;
      expect(result).toMatchObject({
        command: 'install',
        ok: true,
        templates: [{ template: 'fedora-42-xfce', status: 'already-installed' }],
      });
    },
    RUN_TIMEOUT_MS,
  );
});
