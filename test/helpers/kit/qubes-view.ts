/**
 * The simulated Qubes as dom0 sees it, through a qubesd client of the tests' own
 * (test/helpers/admin-raw-client.ts), never through the orchestrator's client under test: VMs,
 * volumes (and the sha256 of their files), features, properties, tags; and what a run must not
 * leave behind: disposables, temporary import volumes, a held operation lock. Also the few
 * writes a test needs to set the scene (create a template by hand, set a feature).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Scenario } from '../../../sim/scenario.ts';
import { call, ok } from '../admin-raw-client.ts';
import { MiB } from './run.ts';

/** A property as admin.vm.property.Get tells it: whether it is the default, and its value. */
export interface PropertyInfo {
  readonly isDefault: boolean;
  readonly value: string;
}

function parseProperty(text: string): PropertyInfo {
  const match = /^default=(True|False) type=[a-z]+ ?([\s\S]*)$/.exec(text);
  if (!match) throw new Error(`malformed property reply '${text}'`);
  return { isDefault: match[1] === 'True', value: match[2]! };
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

  /** The file behind a file-pool volume. */
  async volumePath(vm: string, volume: string): Promise<string> {
    const file = (await this.volumeInfo(vm, volume)).path;
    if (!file) throw new Error(`${vm}:${volume} has no path`);
    return file;
  }

  /** sha256 of the file behind a file-pool volume, 'absent' when there is no such file. */
  async volumeSha256(vm: string, volume: string): Promise<string> {
    const file = await this.volumePath(vm, volume);
    return existsSync(file) ? fileSha256(file) : 'absent';
  }

  async features(vm: string): Promise<Map<string, string>> {
    const names = (await ok(this.socket, { method: 'admin.vm.feature.List', dest: vm }))
      .split('\n')
      .filter((l) => l !== '');
    const result = new Map<string, string>();
    for (const name of names)
      result.set(name, await ok(this.socket, { method: 'admin.vm.feature.Get', dest: vm, arg: name }));
    return result;
  }

  async setFeature(vm: string, feature: string, value: string): Promise<void> {
    await ok(this.socket, { method: 'admin.vm.feature.Set', dest: vm, arg: feature, payload: value });
  }

  /** One feature's value, undefined when it is not set. */
  async feature(vm: string, feature: string): Promise<string | undefined> {
    const reply = await call(this.socket, { method: 'admin.vm.feature.Get', dest: vm, arg: feature });
    return reply.kind === 'ok' ? reply.content : undefined;
  }

  async setProperty(vm: string, property: string, value: string): Promise<void> {
    await ok(this.socket, { method: 'admin.vm.property.Set', dest: vm, arg: property, payload: value });
  }

  /** A VM property's value. */
  async property(vm: string, property: string): Promise<string> {
    return (await this.propertyInfo(vm, property)).value;
  }

  /** A VM property's value and whether it is the default. */
  async propertyInfo(vm: string, property: string): Promise<PropertyInfo> {
    return parseProperty(await ok(this.socket, { method: 'admin.vm.property.Get', dest: vm, arg: property }));
  }

  async globalProperty(property: string): Promise<string> {
    return parseProperty(await ok(this.socket, { method: 'admin.property.Get', arg: property })).value;
  }

  async tagSet(vm: string, tag: string): Promise<void> {
    const reply = await call(this.socket, { method: 'admin.vm.tag.Set', dest: vm, arg: tag });
    if (reply.kind !== 'ok') throw new Error(`tag.Set failed: ${JSON.stringify(reply)}`);
  }
}

export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The whole simulated qubes.xml, to show that a command changed nothing. */
export function simState(scenario: Scenario): string {
  return JSON.stringify(scenario.sim.admin.model.state);
}

/** Names of the disposables that exist now, running or not. */
export async function disposables(qubes: Qubes): Promise<string[]> {
  return (await qubes.vms())
    .filter((v) => v.klass === 'DispVM' || /^disp[0-9]/.test(v.name))
    .map((v) => v.name);
}

/** How long qrexec may take to remove a `@dispvm` after its call ended (it does so after replying). */
export const DISPOSABLE_CLEANUP_WAIT_MS = 15_000;

/**
 * The disposables left once cleanup had its time: a `@dispvm` call returns to its caller before
 * qrexec kills and removes the disposable (as on Qubes), so a check right after a run waits for
 * that, up to DISPOSABLE_CLEANUP_WAIT_MS. A disposable that leaked never goes and is returned.
 */
export async function disposablesAfterCleanup(qubes: Qubes): Promise<string[]> {
  const deadline = Date.now() + DISPOSABLE_CLEANUP_WAIT_MS;
  for (;;) {
    const left = await disposables(qubes);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Files a volume import leaves in the simulator's pools while it runs (sim/admin/storage.ts:
 * `<vid>-import.img`), as full paths; after a run, none may be left. Takes the scenario or the
 * simulator's directory.
 */
export async function importLeftovers(where: Scenario | string): Promise<string[]> {
  const simDir = typeof where === 'string' ? where : where.sim.env.TMPL_SIM_DIR!;
  const root = path.join(simDir, 'pools');
  const entries = await readdir(root, { recursive: true });
  return entries.filter((e) => path.basename(e).includes('-import')).map((e) => path.join(root, e));
}

/** True when no process holds the scenario's operation lock (flock(1), as tmpl takes it). */
export function lockIsFree(scenario: Scenario): boolean {
  const lock = scenario.env.TMPL_LOCK_FILE;
  if (!lock || !existsSync(lock)) return true;
  return spawnSync('flock', ['--nonblock', lock, 'true']).status === 0;
}
