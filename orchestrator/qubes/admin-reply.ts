/**
 * qubesd's reply format: `0\0CONTENT` on success, `2\0Type\0traceback\0format\0(arg\0)*` for an
 * exception (qubes/api/__init__.py; qubesadmin/base.py parses the same way). An empty reply means
 * the daemon failed or refused (PermissionDenied closes the connection without a reply).
 */
import { displayLine } from '../../protocol/display-text.ts';
import { OrchestratorError, QubesdError } from '../errors.ts';

/** Largest reply we read: admin.vm.List on a big system is tens of KiB; the cap bounds memory. */
export const MAX_ADMIN_REPLY_BYTES = 16 * 1024 * 1024;

export function parseAdminReply(reply: Uint8Array, what: string): Buffer {
  const bytes = Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  if (bytes.length === 0) {
    throw new OrchestratorError(
      'qubes.permission-denied',
      `${what}: empty reply from qubesd (the call was refused or failed; see the daemon's log)`,
    );
  }
  if (bytes.length >= 2 && bytes[0] === 0x30 && bytes[1] === 0) {
    return bytes.subarray(2);
  }
  if (bytes.length >= 2 && bytes[0] === 0x32 && bytes[1] === 0) {
    const fields = bytes.subarray(2).toString('utf8').split('\0');
    // fields: Type, traceback, format, args..., '' (after the terminating NUL)
    const [type = 'QubesException', , format = '', ...rest] = fields;
    const args = rest.slice(0, -1);
    let message = format;
    for (const arg of args) message = message.replace(/%[sr]/, arg);
    return throwQubes(type, message || type);
  }
  throw new OrchestratorError('qubes.communication', `${what}: invalid reply format from qubesd`);
}

function throwQubes(type: string, message: string): never {
  throw new QubesdError(
    /^[A-Za-z][A-Za-z0-9_]{0,80}$/.test(type) ? type : 'QubesException',
    displayLine(message),
  );
}
