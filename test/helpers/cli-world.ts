/**
 * Running the real `tmpl` command line against a scenario (sim/scenario.ts), with or without a
 * terminal, and setting up or observing the simulated Qubes through a qubesd client of the
 * tests' own (test/helpers/admin-raw-client.ts), never through the orchestrator's client under test.
 */
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { expect } from 'vitest';
import type { Scenario } from '../../sim/scenario.ts';
import { call, ok } from './admin-raw-client.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TMPL_BIN = path.join(REPO_ROOT, 'bin/tmpl.mjs');
/** One CLI run on a loaded 2-core machine, including disposables for the worker. */
export const RUN_TIMEOUT_MS = 180_000;
export const MiB = 1024 * 1024;

export interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string>;
  /** Leave out the scenario's --repo-files/--releasever (to test option placement). */
  readonly bare?: boolean;
}

export function cliEnv(scenario: Scenario, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    ...scenario.env,
    TMPL_STATE_DIR: path.join(scenario.dir, 'tmpl-state'),
    TMPL_LOG_LEVEL: 'error',
    ...extra,
  };
}

/** Starts `node bin/tmpl.mjs ARGS... <scenario args>` without a terminal (stdin closed). */
export function startCli(
  scenario: Scenario,
  args: readonly string[],
  options: RunOptions = {},
): ResultPromise {
  return execa(process.execPath, [TMPL_BIN, ...args, ...(options.bare ? [] : scenario.args)], {
    env: cliEnv(scenario, options.env),
    extendEnv: false,
    reject: false,
    timeout: RUN_TIMEOUT_MS,
    stdin: 'ignore',
    stripFinalNewline: false,
    cwd: scenario.dir,
  });
}

export async function runCli(
  scenario: Scenario,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CliRun> {
  const result = await startCli(scenario, args, options);
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs tmpl on a pseudo-terminal (util-linux script(1)) and answers each "[y/N]" prompt with the
 * next of `answers` once the prompt has appeared. Returns everything the terminal showed.
 */
export async function runCliOnTerminal(
  scenario: Scenario,
  args: readonly string[],
  answers: readonly string[],
): Promise<CliRun & { prompts: number }> {
  const command = [process.execPath, TMPL_BIN, ...args, ...scenario.args].map(shellQuote).join(' ');
  const child = execa('script', ['-qefc', command, '/dev/null'], {
    env: cliEnv(scenario),
    extendEnv: false,
    reject: false,
    timeout: RUN_TIMEOUT_MS,
    stdin: 'pipe',
    cwd: scenario.dir,
  });
  let seen = '';
  let prompts = 0;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    seen += chunk;
    const count = seen.split('[y/N]').length - 1;
    while (prompts < count) {
      const answer = answers[prompts];
      prompts++;
      if (answer === undefined) child.stdin.end();
      else child.stdin.write(`${answer}\r`);
    }
  });
  const result = await child;
  return { exitCode: result.exitCode ?? -1, stdout: seen, stderr: String(result.stderr), prompts };
}

/** The last stdout line of a `--json` run, parsed. */
export function jsonOf(run: CliRun): {
  ok: boolean;
  command: string | null;
  error?: { code: string; message: string };
  [key: string]: unknown;
} {
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as ReturnType<typeof jsonOf>;
  } catch {
    throw new Error(`no JSON on stdout; exit ${run.exitCode}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

export function expectSuccess(run: CliRun): void {
  expect(run.exitCode, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
}

/** A failed `--json` run: the exit code, the stable error code, and the message on stderr. */
export function expectFailure(run: CliRun, code: string, exitCode = 1): void {
  expect(run.exitCode, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(exitCode);
  const json = jsonOf(run);
  expect(json.ok).toBe(false);
  expect(json.error?.code, json.error?.message).toBe(code);
  expect(run.stderr).toContain(`tmpl: error [${code}]`);
}

/** Setting up and observing the simulated Qubes as dom0. */
export class Qubes {
  constructor(readonly socket: string) {}

  static of(scenario: Scenario): Qubes {
    return new Qubes(scenario.sim.env.TMPL_QUBESD_SOCKET!);
  }

  async vms(): Promise<{ name: string; klass: string; state: string }[]> {
    const text = await ok(this.socket, { method: 'admin.vm.List' });
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((line) => {
        const [name = '', ...rest] = line.split(' ');
        const props = Object.fromEntries(rest.map((kv) => kv.split('=') as [string, string]));
        return { name, klass: props.class ?? '', state: props.state ?? '' };
      });
  }

  async vmNames(): Promise<string[]> {
    return (await this.vms()).map((v) => v.name).sort();
  }

  async createTemplate(name: string, features: Record<string, string> = {}): Promise<void> {
    await ok(this.socket, { method: 'admin.vm.Create.TemplateVM', payload: `name=${name} label=black` });
    for (const [feature, value] of Object.entries(features)) await this.setFeature(name, feature, value);
  }

  async createAppVm(name: string, template: string): Promise<void> {
    await ok(this.socket, {
      method: 'admin.vm.Create.AppVM',
      arg: template,
      payload: `name=${name} label=red`,
    });
  }

  async remove(name: string): Promise<void> {
    await ok(this.socket, { method: 'admin.vm.Remove', dest: name });
  }

  /** admin.vm.volume.Info as `key=value` pairs. */
  async volumeInfo(vm: string, volume: string): Promise<Record<string, string>> {
    const text = await ok(this.socket, { method: 'admin.vm.volume.Info', dest: vm, arg: volume });
    return Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  async setFeature(vm: string, feature: string, value: string): Promise<void> {
    await ok(this.socket, { method: 'admin.vm.feature.Set', dest: vm, arg: feature, payload: value });
  }

  async feature(vm: string, feature: string): Promise<string | undefined> {
    const reply = await call(this.socket, { method: 'admin.vm.feature.Get', dest: vm, arg: feature });
    return reply.kind === 'ok' ? reply.content : undefined;
  }

  async setProperty(vm: string, property: string, value: string): Promise<void> {
    await ok(this.socket, { method: 'admin.vm.property.Set', dest: vm, arg: property, payload: value });
  }

  async property(vm: string, property: string): Promise<string> {
    const text = await ok(this.socket, { method: 'admin.vm.property.Get', dest: vm, arg: property });
    return text.replace(/^default=(True|False) type=[a-z]+ ?/, '');
  }

  async globalProperty(property: string): Promise<string> {
    const text = await ok(this.socket, { method: 'admin.property.Get', arg: property });
    return text.replace(/^default=(True|False) type=[a-z]+ ?/, '');
  }
}

/** The whole simulated qubes.xml, to show that a command changed nothing. */
export function simState(scenario: Scenario): string {
  return JSON.stringify(scenario.sim.admin.model.state);
}

/** The template-* features qvm-template (and tmpl) write, for a template made by hand. */
export function managedFeatures(
  name: string,
  evr: { epoch?: number; version: string; release: string },
  extra: Partial<Record<string, string>> = {},
): Record<string, string> {
  const features: Record<string, string> = {
    'template-name': name,
    'template-epoch': String(evr.epoch ?? 0),
    'template-version': evr.version,
    'template-release': evr.release,
    'template-reponame': 'qubes-templates-sim',
    'template-buildtime': '2026-01-01 00:00:00',
    'template-installtime': '2026-01-02 03:04:05',
    'template-license': 'GPL-2.0-or-later',
    'template-url': 'https://example.invalid/templates',
    'template-summary': `Template ${name}`,
    'template-description': `Template ${name}|made by hand`,
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) features[k] = v;
  return features;
}

/** The simulator's disposables, running or not. */
export async function disposableNames(qubes: Qubes): Promise<string[]> {
  return (await qubes.vms()).filter((v) => v.klass === 'DispVM').map((v) => v.name);
}

/** Files a volume import leaves in the simulator's pools while it runs (`*-import*`). */
export async function importLeftovers(scenario: Scenario): Promise<string[]> {
  const root = path.join(scenario.sim.env.TMPL_SIM_DIR!, 'pools');
  const entries = await readdir(root, { recursive: true });
  return entries.filter((e) => path.basename(e).includes('-import'));
}

/** True when no process holds the scenario's operation lock. */
export function lockIsFree(scenario: Scenario): boolean {
  return spawnSync('flock', ['--nonblock', scenario.env.TMPL_LOCK_FILE!, 'true']).status === 0;
}
