/**
 * The command line's contract: exit codes (0 success, 1 failure, 2 usage error or not found),
 * `--json` for every command including its errors (stable codes), qvm-template's option
 * placement (global options before or after the command) and repository selectors applied in
 * order, `--help` for every command, and `install` of an installed template as a success.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { commands } from '../../../orchestrator/cli/commands/index.ts';
import { main } from '../../../orchestrator/cli/main.ts';
import { parseArgs } from '../../../orchestrator/cli/arguments.ts';
import { SCENARIO_REPO_ID } from '../../../sim/scenario.ts';
import {
  expectFailure,
  expectSuccess,
  jsonOf,
  managedFeatures,
  runTmpl,
  RUN_TIMEOUT_MS,
  useScenario,
} from '../../helpers/kit/index.ts';

const KiB = 1024;
const NAME = 'fedora-cli';

let twoRepos: string;

const world = useScenario(
  {
    templates: [
      {
        name: NAME,
        version: '4.3.0',
        release: '1',
        image: { size: 256 * KiB, extents: [{ offset: 0, length: 16 * KiB, seed: 'cli' }] },
        summary: 'CLI test template',
      },
    ],
  },
  async (scenario, qubes) => {
    await qubes.createTemplate(NAME, managedFeatures(NAME, { version: '4.3.0', release: '1' }));
    twoRepos = path.join(scenario.dir, 'two.repo');
    await writeFile(
      twoRepos,
      ['alpha', 'beta', 'gamma']
        .map(
          (id, i) =>
            `[${id}]\nname=Repository ${id}\nenabled=${i === 0 ? 1 : 0}\nbaseurl=http://127.0.0.1:9/${id}/\ngpgcheck=0\n`,
        )
        .join('\n'),
    );
  },
);

describe('exit codes and --json, commands that take the lock (one at a time)', () => {
  it(
    'install of an installed template: exit 0, "already installed", status already-installed',
    async () => {
      const json = await runTmpl(world.scenario, ['install', '--json', NAME]);
      expectSuccess(json);
      expect(jsonOf(json)).toMatchObject({
        command: 'install',
        ok: true,
        templates: [{ template: NAME, status: 'already-installed' }],
      });
      const human = await runTmpl(world.scenario, ['install', NAME]);
      expectSuccess(human);
      expect(human.stderr).toContain(`Template '${NAME}' already installed, skipping...`);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'install/download/reinstall of an unknown template: exit 2, template.not-found',
    async () => {
      for (const command of ['install', 'download', 'reinstall']) {
        const run = await runTmpl(world.scenario, [command, '--json', 'no-such-template']);
        expectFailure(run, { code: 'template.not-found', exit: 2 });
        expect(jsonOf(run).command).toBe(command);
        expect(run.stderr).toContain("Template 'no-such-template' not found.");
      }
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'upgrade with nothing newer: exit 0, status skipped',
    async () => {
      const run = await runTmpl(world.scenario, ['upgrade', '--json', '--yes', NAME]);
      expectSuccess(run);
      expect(jsonOf(run)).toMatchObject({ ok: true, templates: [{ template: NAME, status: 'skipped' }] });
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'downgrade of a template the repository does not have: exit 2, template.not-found',
    async () => {
      expectFailure(await runTmpl(world.scenario, ['downgrade', '--json', 'debian-12-xfce']), {
        code: 'template.not-found',
        exit: 2,
      });
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'remove/purge of no such VM: exit 2 template.not-found; of a VM that is no template: exit 2 usage',
    async () => {
      expectFailure(await runTmpl(world.scenario, ['remove', '--json', 'no-such-vm']), {
        code: 'template.not-found',
        exit: 2,
      });
      expectFailure(await runTmpl(world.scenario, ['purge', '--json', '--yes', 'no-such-vm']), {
        code: 'template.not-found',
        exit: 2,
      });
      expectFailure(await runTmpl(world.scenario, ['remove', '--json', 'work']), { code: 'usage', exit: 2 });
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'clean and repolist --json',
    async () => {
      const clean = await runTmpl(world.scenario, [
        'clean',
        '--json',
        '--cachedir',
        path.join(world.scenario.dir, 'cache'),
      ]);
      expectSuccess(clean);
      expect(jsonOf(clean)).toEqual({ command: 'clean', ok: true, removed: [] });
      const repolist = await runTmpl(world.scenario, ['repolist', '--json']);
      expectSuccess(repolist);
      expect(jsonOf(repolist)).toEqual({
        command: 'repolist',
        ok: true,
        repos: [{ id: SCENARIO_REPO_ID, name: 'Simulated template repository', enabled: true }],
      });
    },
    RUN_TIMEOUT_MS,
  );
});

describe.concurrent('exit codes and --json, commands without the lock', () => {
  it(
    'list/info: --json has the envelope, no match is exit 2 template.not-found',
    async () => {
      const list = await runTmpl(world.scenario, ['list', '--installed', '--json']);
      expectSuccess(list);
      const json = jsonOf(list);
      expect(json).toMatchObject({ command: 'list', ok: true });
      expect((json.installed as { name: string }[]).map((t) => t.name)).toContain(NAME);
      expectFailure(await runTmpl(world.scenario, ['info', '--installed', '--json', 'nothing-*']), {
        code: 'template.not-found',
        exit: 2,
      });
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'search --json: ranked results with their section headers',
    async () => {
      const run = await runTmpl(world.scenario, ['search', '--json', 'cli']);
      expectSuccess(run);
      expect(jsonOf(run)).toEqual({
        command: 'search',
        ok: true,
        // fnmatch is case-sensitive on POSIX, as in qvm-template: 'CLI' in the summary does not match
        results: [{ header: 'Name Matched: cli', name: NAME, summary: 'CLI test template' }],
        warnings: [],
      });
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'verify --json: a verdict per package, exit 1 and the failure code when one fails',
    async () => {
      const good = world.scenario.packages[0]!.path;
      const bad = path.join(world.scenario.dir, 'not-a-package.rpm');
      await writeFile(bad, 'this is not an RPM package');
      const run = await runTmpl(world.scenario, [
        'verify',
        '--json',
        '--keyring',
        world.scenario.keyPath,
        good,
        bad,
      ]);
      expect(run.exitCode).toBe(1);
      const json = jsonOf(run);
      expect(json.ok).toBe(false);
      expect(json.packages).toMatchObject([
        { path: good, ok: true, signaturesChecked: true },
        { path: bad, ok: false },
      ]);
      expect(json.error?.code).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
      const ok = await runTmpl(world.scenario, [
        'verify',
        '--json',
        '--keyring',
        world.scenario.keyPath,
        good,
      ]);
      expectSuccess(ok);
      expect(jsonOf(ok)).toMatchObject({ command: 'verify', ok: true });
      expectFailure(await runTmpl(world.scenario, ['verify', '--json']), { code: 'usage', exit: 2 });
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'usage errors: unknown command, unknown option, missing value, no command: exit 2, code usage',
    async () => {
      for (const args of [
        ['frobnicate', '--json'],
        ['list', '--json', '--no-such-option'],
        ['install', '--json', '--pool'],
        ['--json'],
        ['install', '--json'],
      ]) {
        const run = await runTmpl(world.scenario, args);
        expectFailure(run, { code: 'usage', exit: 2 });
      }
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'no Admin API: exit 2, code qubes.no-admin-api',
    async () => {
      const run = await runTmpl(world.scenario, ['list', '--installed', '--json'], {
        env: { TMPL_QUBESD_SOCKET: path.join(world.scenario.dir, 'no-such.sock') },
      });
      expectFailure(run, { code: 'qubes.no-admin-api', exit: 2 });
    },
    RUN_TIMEOUT_MS,
  );
});

describe.concurrent('options', () => {
  it(
    'global options before and after the command give the same result',
    async () => {
      const before = await runTmpl(world.scenario, [...world.scenario.args, '--json', 'repolist', '--all'], {
        bare: true,
      });
      const after = await runTmpl(world.scenario, ['repolist', '--all', ...world.scenario.args, '--json'], {
        bare: true,
      });
      const mixed = await runTmpl(
        world.scenario,
        ['--repo-files', world.scenario.repoFile, 'repolist', '--releasever', '4.2', '--all', '--json'],
        { bare: true },
      );
      expectSuccess(before);
      expect(after.stdout).toBe(before.stdout);
      expect(mixed.stdout).toBe(before.stdout);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    '--enablerepo/--disablerepo/--repoid apply in command-line order',
    async () => {
      const enabled = async (...selectors: string[]): Promise<string[]> => {
        const run = await runTmpl(
          world.scenario,
          ['repolist', '--json', '--repo-files', twoRepos, ...selectors],
          {
            bare: true,
            env: { TMPL_RELEASEVER: '4.2' },
          },
        );
        expectSuccess(run);
        return (jsonOf(run).repos as { id: string }[]).map((r) => r.id);
      };
      const [a, b, c, d, e] = await Promise.all([
        enabled('--disablerepo=*', '--enablerepo=beta'),
        enabled('--enablerepo=beta', '--disablerepo=*'),
        enabled('--repoid', 'gamma', '--enablerepo=beta'),
        enabled('--enablerepo=beta', '--repoid=gamma'),
        enabled('--enablerepo=beta,gamma', '--disablerepo', 'alpha'),
      ]);
      expect(a).toEqual(['beta']);
      expect(b).toEqual([]);
      // dnf (which qvm-template forwards these to) disables everything first when --repoid is
      // given and enables the --repoid values last, wherever they stand
      expect(c).toEqual(['beta', 'gamma']);
      expect(d).toEqual(['beta', 'gamma']);
      expect(e).toEqual(['beta', 'gamma']);
      // and refuses --repoid with --disablerepo
      const both = await runTmpl(
        world.scenario,
        ['repolist', '--json', '--repo-files', twoRepos, '--repoid=gamma', '--disablerepo=alpha'],
        { bare: true, env: { TMPL_RELEASEVER: '4.2' } },
      );
      expectFailure(both, { code: 'usage', exit: 2 });
    },
    RUN_TIMEOUT_MS,
  );

  it('parses --opt=value and --opt value, bundled short flags, -- and repeats, keeping selector order', () => {
    const args = parseArgs(
      ['-yq', '--enablerepo=a', 'list', '--disablerepo', 'b,c', '--repoid=d', '--installed', '--', '--x'],
      (name) => commands.find((c) => c.name === name)?.options,
    );
    expect(args.command).toBe('list');
    expect(args.positionals).toEqual(['--x']);
    expect(args.options.get('yes')).toEqual(['true']);
    expect(args.options.get('quiet')).toEqual(['true']);
    expect(args.options.get('installed')).toEqual(['true']);
    expect(args.repoSelectors).toEqual([
      { kind: 'enablerepo', pattern: 'a' },
      { kind: 'disablerepo', pattern: 'b' },
      { kind: 'disablerepo', pattern: 'c' },
      { kind: 'repoid', pattern: 'd' },
    ]);
    // a command's own option is unknown before the command
    expect(() =>
      parseArgs(['--installed', 'list'], (n) => commands.find((c) => c.name === n)?.options),
    ).toThrow(/unrecognized option '--installed'/);
  });
});

describe('--help', () => {
  async function help(argv: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      return { code: await main(argv), out };
    } finally {
      spy.mockRestore();
    }
  }

  it('tmpl --help lists every command; tmpl COMMAND --help shows its usage and options', async () => {
    const top = await help(['--help']);
    expect(top.code).toBe(0);
    for (const command of commands) {
      expect(top.out).toContain(`  ${command.name} `);
      for (const argv of [
        [command.name, '--help'],
        ['-h', command.name],
      ]) {
        const { code, out } = await help(argv);
        expect(code, command.name).toBe(0);
        expect(out).toMatch(new RegExp(`^usage: tmpl ${command.name}`));
        for (const option of command.options ?? []) expect(out, command.name).toContain(`--${option.name}`);
      }
    }
  });
});
