/**
 * The daemon's own Admin API calls (qubesd framing: `METHOD+ARG SOURCE name|keyword DEST\0PAYLOAD`,
 * SHUT_WR, then `0\0content` or `2\0Type\0traceback\0message\0`), and the system information
 * policy evaluation needs, fetched with them.
 */
import net from 'node:net';
import { QrexecError } from './errors.ts';
import { MAX_ADMIN_REPLY_BYTES } from './limits.ts';
import type { SystemInfo, VmInfo } from './policy-tokens.ts';

export interface AdminCallOptions {
  readonly socketPath: string;
  readonly method: string;
  readonly arg?: string;
  readonly source?: string;
  readonly dest?: string;
  readonly payload?: Uint8Array;
}

/** Thrown when qubesd answers with an exception: `type` is e.g. QubesVMNotFoundError. */
export class AdminException extends QrexecError {
  readonly type: string;
  constructor(type: string, message: string) {
    super('qrexec.admin', `${type}: ${message}`);
    this.type = type;
  }
}

export function encodeAdminRequest(options: Omit<AdminCallOptions, 'socketPath'>): Buffer {
  const dest = options.dest ?? 'dom0';
  const destPart = dest === '@adminvm' ? 'keyword adminvm' : `name ${dest}`;
  const header = `${options.method}+${options.arg ?? ''} ${options.source ?? 'dom0'} ${destPart}\0`;
  return Buffer.concat([Buffer.from(header, 'ascii'), options.payload ?? Buffer.alloc(0)]);
}

/** Reads a whole reply (bounded) from a connection to qubesd. */
export async function rawAdminCall(options: AdminCallOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(options.socketPath);
    const chunks: Buffer[] = [];
    let total = 0;
    socket.on('connect', () => socket.end(encodeAdminRequest(options)));
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_ADMIN_REPLY_BYTES) {
        socket.destroy();
        reject(
          new QrexecError(
            'qrexec.admin',
            `${options.method}: reply larger than ${MAX_ADMIN_REPLY_BYTES} bytes`,
          ),
        );
        return;
      }
      chunks.push(chunk);
    });
    socket.on('error', (error) =>
      reject(
        new QrexecError('qrexec.admin', `cannot call ${options.method}: ${error.message}`, { cause: error }),
      ),
    );
    socket.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** One Admin API call; returns the content of an OK reply, throws AdminException otherwise. */
export async function adminCall(options: AdminCallOptions): Promise<string> {
  const reply = await rawAdminCall(options);
  if (reply.length >= 2 && reply[0] === 0x30 && reply[1] === 0) return reply.subarray(2).toString('utf8');
  if (reply.length >= 2 && reply[0] === 0x32 && reply[1] === 0) {
    const [type = 'QubesException', , message = ''] = reply.subarray(2).toString('utf8').split('\0');
    throw new AdminException(type, message);
  }
  throw new QrexecError('qrexec.admin', `${options.method}: malformed or empty reply from qubesd`);
}

export interface VmListEntry {
  readonly name: string;
  readonly klass: string;
  readonly state: string;
}

/** admin.vm.List: `name class=C state=S [k=v...]` lines. */
export async function listVms(socketPath: string): Promise<Map<string, VmListEntry>> {
  const text = await adminCall({ socketPath, method: 'admin.vm.List' });
  const vms = new Map<string, VmListEntry>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [name, ...pairs] = line.split(' ');
    if (!name) continue;
    const fields = new Map(
      pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    );
    vms.set(name, { name, klass: fields.get('class') ?? '', state: fields.get('state') ?? '' });
  }
  return vms;
}

/** admin.vm.property.Get value, or null when the property is empty or the VM has none. */
export async function getVmProperty(
  socketPath: string,
  vm: string,
  property: string,
): Promise<string | null> {
  try {
    const text = await adminCall({ socketPath, method: 'admin.vm.property.Get', arg: property, dest: vm });
    // `default=True|False type=T VALUE`
    const value = text.split(' ').slice(2).join(' ');
    return value === '' ? null : value;
  } catch (error) {
    if (error instanceof AdminException && error.type === 'QubesNoSuchPropertyError') return null;
    throw error;
  }
}

/** admin.vm.property.GetAll: `NAME default=D type=T VALUE` lines, `\\` and `\n` escaped in VALUE. */
async function getAllProperties(socketPath: string, vm: string): Promise<Map<string, string | null>> {
  const text = await adminCall({ socketPath, method: 'admin.vm.property.GetAll', dest: vm });
  const properties = new Map<string, string | null>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [name = '', , , ...value] = line.split(' ');
    const joined = value.join(' ').replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    properties.set(name, joined === '' ? null : joined);
  }
  return properties;
}

async function vmInfo(socketPath: string, entry: VmListEntry): Promise<VmInfo> {
  if (entry.name === 'dom0' || entry.klass === 'AdminVM') {
    return {
      name: entry.name,
      type: 'AdminVM',
      tags: [],
      defaultDispvm: null,
      templateForDispvms: false,
      powerState: 'Running',
      template: null,
    };
  }
  const [properties, tags] = await Promise.all([
    getAllProperties(socketPath, entry.name).catch(async (error: unknown) => {
      // A qubesd without GetAll (before R4.1): the three properties one by one.
      if (!(error instanceof AdminException) || error.type === 'QubesVMNotFoundError') throw error;
      const names = ['default_dispvm', 'template_for_dispvms', 'template'];
      const values = await Promise.all(names.map((name) => getVmProperty(socketPath, entry.name, name)));
      return new Map(names.map((name, i) => [name, values[i] ?? null]));
    }),
    adminCall({ socketPath, method: 'admin.vm.tag.List', dest: entry.name }).catch((error: unknown) => {
      if (error instanceof AdminException && error.type !== 'QubesVMNotFoundError') return '';
      throw error;
    }),
  ]);
  return {
    name: entry.name,
    type: entry.klass,
    tags: tags.split('\n').filter((tag) => tag !== ''),
    defaultDispvm: properties.get('default_dispvm') ?? null,
    templateForDispvms: properties.get('template_for_dispvms') === 'True',
    powerState: entry.state,
    template: properties.get('template') ?? null,
  };
}

/**
 * The system information policy evaluation needs (qrexec's system_info): every VM's class and
 * state from admin.vm.List, and its tags, default_dispvm, template_for_dispvms and template.
 */
export async function fetchSystemInfo(socketPath: string): Promise<SystemInfo> {
  const list = await listVms(socketPath);
  const infos = await Promise.all(
    [...list.values()].map((entry) =>
      vmInfo(socketPath, entry).catch((error: unknown) => {
        // Removed since admin.vm.List (a disposable cleaned up meanwhile): it no longer exists.
        if (error instanceof AdminException && error.type === 'QubesVMNotFoundError') return null;
        throw error;
      }),
    ),
  );
  const domains = new Map<string, VmInfo>(
    infos.filter((info): info is VmInfo => info !== null).map((info) => [info.name, info]),
  );
  if (!domains.has('dom0')) {
    domains.set('dom0', {
      name: 'dom0',
      type: 'AdminVM',
      tags: [],
      defaultDispvm: null,
      templateForDispvms: false,
      powerState: 'Running',
      template: null,
    });
  }
  return { domains };
}
