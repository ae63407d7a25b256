/**
 * Method dispatch as qubes/api/__init__.py does it: decode source and destination, find the
 * method, check argument/payload/destination against the method's declaration, run it.
 */
import type { Logger } from 'pino';
import type { Disposables } from './disposables.ts';
import { exc, QubesApiError, UnhandledServerError } from './errors.ts';
import type { ApiRequest } from './framing.ts';
import type { QubesModel } from './model.ts';
import { ascii, isAscii, validateVmName } from './names.ts';
import type { VmState } from './state.ts';

/** Called around power transitions so that a qrexec layer can run or stop the qube. */
export interface PowerHooks {
  /** The qube is Transient while this runs; a rejection fails the start. */
  onStart?(vm: Readonly<VmState>): Promise<void>;
  /** After the qube became Halted (before an auto_cleanup disposable is removed). */
  onStop?(vm: Readonly<VmState>): Promise<void>;
}

export interface CallContext {
  readonly model: QubesModel;
  readonly src: VmState;
  readonly dest: VmState;
  readonly arg: string;
  readonly method: string;
  readonly endpoint: string | undefined;
  readonly payload: Uint8Array;
  readonly log: Logger;
  readonly hooks: PowerHooks;
  /** Disposables' costs, preloading and event record (disposables.ts). */
  readonly dispvms: Disposables;
  /** Persists the state (coalesced, atomic). */
  save(): Promise<void>;
}

export interface MethodSpec {
  /** true: an argument is required; false: refused; null: not checked. */
  readonly wantsArg: boolean | null;
  readonly wantsPayload: boolean | null;
  readonly destAdminvm: boolean | null;
  /** The state is saved after the handler succeeded. */
  readonly writes: boolean;
  readonly handler: (ctx: CallContext) => Promise<string | null> | string | null;
}

export type MethodTable = ReadonlyMap<string, { spec: MethodSpec; endpoint?: string }>;

const UUID_RE = /^uuid:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]*$/;

/** qubes.api.decode_vm */
function decodeVm(model: QubesModel, untrusted: Uint8Array): VmState {
  if (!isAscii(untrusted)) throw new UnhandledServerError('UnicodeDecodeError in VM name');
  const name = ascii(untrusted);
  if (name.startsWith('uuid:')) {
    if (name.length !== 41 || !UUID_RE.test(name))
      throw new QubesApiError('QubesVMInvalidUUIDError', `VM UUID is not valid: '${name.slice(5)}'`);
    const vm = model.findVmByUuid(name.slice(5));
    if (!vm) throw exc.vmNotFound(name);
    return vm;
  }
  validateVmName(name);
  return model.vm(name);
}

export async function dispatch(
  table: MethodTable,
  request: ApiRequest,
  base: Omit<CallContext, 'src' | 'dest' | 'arg' | 'method' | 'endpoint' | 'payload'>,
): Promise<string | null> {
  const src = decodeVm(base.model, request.source);
  const dest = decodeVm(base.model, request.dest);
  if (!isAscii(request.arg) || !isAscii(request.method))
    throw new UnhandledServerError('UnicodeDecodeError in method or argument');
  const arg = ascii(request.arg);
  const method = ascii(request.method);
  const entry = table.get(method);
  if (!entry) throw exc.protocol(`no such method: '${method}'`);
  const { spec } = entry;
  const payload = request.payload;
  if (spec.wantsPayload === true && payload.length === 0) throw exc.protocol('expected payload');
  if (spec.wantsPayload === false && payload.length !== 0) throw exc.protocol('unexpected payload');
  if (spec.wantsArg === true && !arg) throw exc.protocol('expected an argument');
  if (spec.wantsArg === false && arg) throw exc.protocol('unexpected argument');
  if (spec.destAdminvm === true && dest.klass !== 'AdminVM')
    throw exc.protocol('expected destination to be AdminVM');
  if (spec.destAdminvm === false && dest.klass === 'AdminVM')
    throw exc.protocol('expected destination to not be AdminVM');
  const result = await spec.handler({
    ...base,
    src,
    dest,
    arg,
    method,
    endpoint: entry.endpoint,
    payload,
  });
  if (spec.writes) await base.save();
  return result;
}

export function method(
  wantsArg: boolean | null,
  wantsPayload: boolean | null,
  destAdminvm: boolean | null,
  writes: boolean,
  handler: MethodSpec['handler'],
): MethodSpec {
  return { wantsArg, wantsPayload, destAdminvm, writes, handler };
}

/** AbstractQubesAPI.enforce_arg: PermissionDenied naming the allowed set. */
export function enforceArg(ctx: CallContext, wants: readonly string[], reason: string): void {
  if (!wants.includes(ctx.arg)) {
    const quoted = reason.includes("'") && !reason.includes('"') ? `"${reason}"` : `'${reason}'`;
    throw exc.permission(`Argument not in ${quoted}`);
  }
}
