/**
 * Typed Admin API calls over either transport. Replies are parsed strictly: they come from
 * qubesd (trusted), but a malformed reply must still give a clear error, never undefined values.
 */
import { OrchestratorError } from '../errors.ts';
import type { AdminTransport } from './admin-transport.ts';

export interface VmEntry {
  readonly name: string;
  readonly klass: string;
  readonly state: string;
}

export interface PropertyValue {
  readonly isDefault: boolean;
  readonly type: string;
  /** '' for None. */
  readonly value: string;
}

export type VolumeInfo = Readonly<Record<string, string>>;

const encoder = new TextEncoder();

function text(reply: Buffer): string {
  return reply.toString('utf8');
}

/** `key=value` lines (admin.pool.Info, admin.vm.volume.Info). */
function parseKeyValueLines(reply: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text(reply).split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0)
      throw new OrchestratorError('qubes.communication', `malformed key=value line from qubesd: '${line}'`);
    result[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return result;
}

export class AdminClient {
  constructor(readonly transport: AdminTransport) {}

  private call(dest: string, method: string, arg?: string, payload?: string | Uint8Array): Promise<Buffer> {
    return this.transport.call({
      dest,
      method,
      ...(arg !== undefined ? { arg } : {}),
      ...(payload !== undefined
        ? { payload: typeof payload === 'string' ? encoder.encode(payload) : payload }
        : {}),
    });
  }

  async listVms(): Promise<VmEntry[]> {
    const reply = text(await this.call('dom0', 'admin.vm.List'));
    const vms: VmEntry[] = [];
    for (const line of reply.split('\n')) {
      if (line === '') continue;
      const [name, ...fields] = line.split(' ');
      const props = Object.fromEntries(
        fields.map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]),
      );
      if (!name || !props.class || !props.state) {
        throw new OrchestratorError('qubes.communication', `malformed admin.vm.List line: '${line}'`);
      }
      vms.push({ name, klass: props.class, state: props.state });
    }
    return vms;
  }

  async vmExists(name: string): Promise<boolean> {
    return (await this.listVms()).some((vm) => vm.name === name);
  }

  async getProperty(vm: string, property: string): Promise<PropertyValue> {
    return parseProperty(await this.call(vm, 'admin.vm.property.Get', property));
  }

  async setProperty(vm: string, property: string, value: string): Promise<void> {
    await this.call(vm, 'admin.vm.property.Set', property, value);
  }

  async resetProperty(vm: string, property: string): Promise<void> {
    await this.call(vm, 'admin.vm.property.Reset', property);
  }

  async getGlobalProperty(property: string): Promise<PropertyValue> {
    return parseProperty(await this.call('dom0', 'admin.property.Get', property));
  }

  async setGlobalProperty(property: string, value: string): Promise<void> {
    await this.call('dom0', 'admin.property.Set', property, value);
  }

  async listFeatures(vm: string): Promise<string[]> {
    return text(await this.call(vm, 'admin.vm.feature.List'))
      .split('\n')
      .filter((f) => f !== '');
  }

  async getFeature(vm: string, feature: string): Promise<string | undefined> {
    try {
      return text(await this.call(vm, 'admin.vm.feature.Get', feature));
    } catch (error) {
      if (error instanceof OrchestratorError && error.code === 'qubes.feature-not-found') return undefined;
      throw error;
    }
  }

  async getFeatures(vm: string): Promise<Map<string, string>> {
    const features = new Map<string, string>();
    for (const name of await this.listFeatures(vm)) {
      const value = await this.getFeature(vm, name);
      if (value !== undefined) features.set(name, value);
    }
    return features;
  }

  async setFeature(vm: string, feature: string, value: string): Promise<void> {
    await this.call(vm, 'admin.vm.feature.Set', feature, value);
  }

  async removeFeature(vm: string, feature: string): Promise<void> {
    try {
      await this.call(vm, 'admin.vm.feature.Remove', feature);
    } catch (error) {
      if (error instanceof OrchestratorError && error.code === 'qubes.feature-not-found') return;
      throw error;
    }
  }

  async listTags(vm: string): Promise<string[]> {
    return text(await this.call(vm, 'admin.vm.tag.List'))
      .split('\n')
      .filter((t) => t !== '');
  }

  async createTemplate(name: string, label: string, pool?: string): Promise<void> {
    if (pool !== undefined) {
      await this.call(
        'dom0',
        'admin.vm.CreateInPool.TemplateVM',
        undefined,
        `name=${name} label=${label} pool=${pool}`,
      );
    } else {
      await this.call('dom0', 'admin.vm.Create.TemplateVM', undefined, `name=${name} label=${label}`);
    }
  }

  /** admin.vm.Create.AppVM+TEMPLATE: a new AppVM based on `template`. */
  async createAppVm(name: string, label: string, template: string): Promise<void> {
    await this.call('dom0', 'admin.vm.Create.AppVM', template, `name=${name} label=${label}`);
  }

  async addTag(vm: string, tag: string): Promise<void> {
    await this.call(vm, 'admin.vm.tag.Set', tag);
  }

  async removeVm(name: string): Promise<void> {
    await this.call(name, 'admin.vm.Remove');
  }

  async start(name: string): Promise<void> {
    await this.call(name, 'admin.vm.Start');
  }

  async shutdown(name: string, options: { force?: boolean; wait?: boolean } = {}): Promise<void> {
    const arg = [options.force ? 'force' : '', options.wait ? 'wait' : ''].filter(Boolean).join('+');
    await this.call(name, 'admin.vm.Shutdown', arg || undefined);
  }

  async kill(name: string): Promise<void> {
    await this.call(name, 'admin.vm.Kill');
  }

  async getPowerState(name: string): Promise<string> {
    const vm = (await this.listVms()).find((v) => v.name === name);
    if (!vm) throw new OrchestratorError('qubes.vm-not-found', `No such domain: '${name}'`);
    return vm.state;
  }

  /** admin.vm.CreateDisposable on a disposable template (or dom0 for the default one). */
  async createDisposable(template: string): Promise<string> {
    const name = text(await this.call(template, 'admin.vm.CreateDisposable')).trim();
    if (!/^disp[0-9]{1,6}$|^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/.test(name)) {
      throw new OrchestratorError('qubes.communication', `unexpected disposable name from qubesd: '${name}'`);
    }
    return name;
  }

  async poolInfo(pool: string): Promise<Record<string, string>> {
    return parseKeyValueLines(await this.call('dom0', 'admin.pool.Info', pool));
  }

  async volumeInfo(vm: string, volume: string): Promise<VolumeInfo> {
    return parseKeyValueLines(await this.call(vm, 'admin.vm.volume.Info', volume));
  }

  async volumeClear(vm: string, volume: string): Promise<void> {
    await this.call(vm, 'admin.vm.volume.Clear', volume);
  }

  /** admin.vm.volume.ListSnapshots: the revisions a volume keeps, oldest first. */
  async volumeRevisions(vm: string, volume: string): Promise<string[]> {
    return text(await this.call(vm, 'admin.vm.volume.ListSnapshots', volume))
      .split('\n')
      .filter((r) => r !== '');
  }

  /** admin.vm.volume.Set.revisions_to_keep */
  async setVolumeRevisionsToKeep(vm: string, volume: string, keep: number): Promise<void> {
    await this.call(vm, 'admin.vm.volume.Set.revisions_to_keep', volume, String(keep));
  }

  /** admin.vm.volume.Revert: the volume becomes `revision` (the qube must be halted). */
  async volumeRevert(vm: string, volume: string, revision: string): Promise<void> {
    await this.call(vm, 'admin.vm.volume.Revert', volume, revision);
  }

  /**
   * admin.vm.volume.ImportWithSize: `SIZE\n` then exactly SIZE bytes. Qubes writes into a
   * temporary volume and swaps it in only when exactly SIZE bytes arrived; if `data` throws,
   * the import is cut short, Qubes discards the temporary volume, and the error is rethrown.
   */
  async importWithSize(
    vm: string,
    volume: string,
    size: number,
    data: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new OrchestratorError('usage', `invalid import size ${size}`);
    const payload = (async function* () {
      yield encoder.encode(`${size}\n`);
      yield* data;
    })();
    await this.transport.callStream(
      { dest: vm, method: 'admin.vm.volume.ImportWithSize', arg: volume },
      payload,
    );
  }
}

function parseProperty(reply: Buffer): PropertyValue {
  const match = /^default=(True|False) type=([a-z]+) ?([\s\S]*)$/.exec(text(reply));
  if (!match) throw new OrchestratorError('qubes.communication', 'malformed property reply from qubesd');
  return { isDefault: match[1] === 'True', type: match[2]!, value: match[3]! };
}
