/**
 * `tmpl remove` and `tmpl purge` against the simulated Qubes: only managed templates (unless
 * --force), refused while in use with the users listed, --disassoc to a dummy template,
 * --dry-run printing exactly what would change and changing nothing, purge's three
 * confirmations on a terminal, a refusal instead of a hang without one, and the operation lock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import {
  expectFailure,
  expectSuccess,
  jsonOf,
  managedFeatures,
  runTmpl,
  runOnTerminal,
  RUN_TIMEOUT_MS,
  simState,
  useScenario,
} from '../../../helpers/kit/index.ts';

const world = useScenario({ templates: [] });

async function managed(name: string): Promise<void> {
  await world.qubes.createTemplate(name, managedFeatures(name, { version: '4.3.0', release: '1' }));
}
describe('remove', () => {
  it(
    'refuses a template tmpl does not manage unless --force',
    async () => {
      await world.qubes.createTemplate('hand-made');
      // a clone keeps the template-name feature of its origin: not managed either
      await world.qubes.createTemplate(
        'renamed',
        managedFeatures('original-name', { version: '1', release: '1' }),
      );
      for (const name of ['hand-made', 'renamed']) {
        const before = simState(world.scenario);
        const run = await runTmpl(world.scenario, ['remove', '--json', name]);
        expectFailure(run, { code: 'template.not-managed', exit: 1 });
        expect(run.stderr).toContain('use --force');
        expect(simState(world.scenario)).toBe(before);
      }
      expectSuccess(
        await runTmpl(world.scenario, ['remove', '--json', '--yes', '--force', 'hand-made', 'renamed']),
      );
      expect(await world.qubes.vmNames()).not.toContain('hand-made');
      expect(await world.qubes.vmNames()).not.toContain('renamed');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'refuses while in use and lists the users; --dry-run shows the plan; --disassoc re-points them to a dummy',
    async () => {
      await managed('tpl-used');
      await world.qubes.createAppVm('app-one', 'tpl-used');
      await world.qubes.createAppVm('app-two', 'tpl-used');
      const before = simState(world.scenario);
      const refused = await runTmpl(world.scenario, ['remove', '--json', 'tpl-used']);
      expectFailure(refused, { code: 'qubes.vm-in-use', exit: 1 });
      expect(jsonOf(refused).error?.message).toContain('app-one (template), app-two (template)');
      expect(simState(world.scenario)).toBe(before);

      const dry = await runTmpl(world.scenario, ['remove', '--disassoc', '--dry-run', 'tpl-used']);
      expectSuccess(dry);
      expect(dry.stdout).toBe(
        [
          'would create template dummy (feature template-dummy=1)',
          'would set template of app-one to dummy',
          'would set template of app-two to dummy',
          'would remove tpl-used',
          '',
        ].join('\n'),
      );
      expect(simState(world.scenario)).toBe(before);

      const run = await runTmpl(world.scenario, ['remove', '--disassoc', '--yes', '--json', 'tpl-used']);
      expectSuccess(run);
      expect(jsonOf(run)).toMatchObject({ command: 'remove', ok: true, remove: ['tpl-used'] });
      expect(await world.qubes.vmNames()).not.toContain('tpl-used');
      expect(await world.qubes.property('app-one', 'template')).toBe('dummy');
      expect(await world.qubes.property('app-two', 'template')).toBe('dummy');
      expect(await world.qubes.feature('dummy', 'template-dummy')).toBe('1');
    },
    RUN_TIMEOUT_MS,
  );
});

describe('purge', () => {
  it(
    '--dry-run lists the template, every VM based on it and the global properties to reset; changes nothing',
    async () => {
      await managed('tpl-purge');
      await world.qubes.createAppVm('purge-app', 'tpl-purge');
      await world.qubes.createAppVm('purge-net-user', 'tpl-purge');
      await world.qubes.setProperty('purge-app', 'provides_network', 'True');
      await world.qubes.setProperty('purge-net-user', 'netvm', 'purge-app');
      const before = simState(world.scenario);
      const dry = await runTmpl(world.scenario, ['purge', '--dry-run', 'tpl-purge']);
      expectSuccess(dry);
      expect(dry.stdout).toBe(
        ['would remove purge-net-user', 'would remove purge-app', 'would remove tpl-purge', ''].join('\n'),
      );
      expect(simState(world.scenario)).toBe(before);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'without a terminal and without --yes: refuses at once (exit 1, code cancelled), changes nothing',
    async () => {
      const before = simState(world.scenario);
      const started = Date.now();
      const run = await runTmpl(world.scenario, ['purge', '--json', 'tpl-purge']);
      expectFailure(run, { code: 'cancelled', exit: 1 });
      expect(run.stderr).toContain('run with --yes');
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(simState(world.scenario)).toBe(before);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'on a terminal asks three times; "no" at the third question changes nothing',
    async () => {
      const before = simState(world.scenario);
      const run = await runOnTerminal(world.scenario, ['purge', 'tpl-purge'], ['y', 'y', 'n']);
      expect(run.prompts).toBe(3);
      expect(run.exitCode, run.stdout).toBe(1);
      expect(run.stdout).toContain('confirmation 3 of 3');
      expect(run.stdout).toContain('command cancelled.');
      expect(simState(world.scenario)).toBe(before);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'on a terminal, three "yes" remove the template and its dependents',
    async () => {
      const run = await runOnTerminal(world.scenario, ['purge', 'tpl-purge'], ['y', 'yes', 'Y']);
      expect(run.prompts).toBe(3);
      expect(run.exitCode, run.stdout).toBe(0);
      const names = await world.qubes.vmNames();
      for (const vm of ['tpl-purge', 'purge-app', 'purge-net-user']) expect(names).not.toContain(vm);
    },
    RUN_TIMEOUT_MS,
  );
});

describe('the operation lock', () => {
  let holder: ChildProcess | undefined;

  // flock and its command in their own process group, ended together
  const release = async (): Promise<void> => {
    if (!holder) return;
    const exited = once(holder, 'exit');
    process.kill(-holder.pid!, 'SIGKILL');
    await exited;
    holder = undefined;
  };

  afterAll(release);

  it(
    'while another process holds it (as qvm-template would), every changing command exits 1 with lock.held; list does not wait',
    async () => {
      // flock(1) on the same file is what qvm-template's fcntl.flock conflicts with
      holder = spawn('flock', [world.scenario.env.TMPL_LOCK_FILE!, 'sh', '-c', 'echo held; exec sleep 600'], {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
      });
      await once(holder.stdout!, 'data');
      await managed('tpl-locked');
      const before = simState(world.scenario);
      const runs = await Promise.all(
        [
          ['install', 'x'],
          ['reinstall', 'x'],
          ['upgrade', 'x'],
          ['downgrade', 'x'],
          ['download', 'x'],
          ['remove', 'tpl-locked'],
          ['purge', '--yes', 'tpl-locked'],
          ['clean'],
        ].map(async (args) => [args[0], await runTmpl(world.scenario, [...args, '--json'])] as const),
      );
      for (const [command, run] of runs) {
        expectFailure(run, { code: 'lock.held', exit: 1 });
        expect(jsonOf(run).command).toBe(command);
        expect(run.stderr).toContain('Cannot get lock on');
      }
      expect(simState(world.scenario)).toBe(before);
      expectSuccess(await runTmpl(world.scenario, ['list', '--installed', 'tpl-locked']));
      await release();
      expectSuccess(await runTmpl(world.scenario, ['remove', '--yes', 'tpl-locked']));
    },
    RUN_TIMEOUT_MS,
  );
});
