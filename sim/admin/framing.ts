/**
 * qubesd's socket framing (qubes/api/__init__.py, QubesDaemonProtocol).
 *
 * Request: `METHOD+ARG SP SOURCE SP DEST_TYPE SP DEST NUL PAYLOAD`, read until the client shuts
 * down its write side and parsed only then. Reply: `0\0content`, or for an exception
 * `2\0Type\0traceback\0message\0` (the traceback is empty unless qubesd runs with --debug).
 */

/** qubesd's QubesDaemonProtocol.buffer_size: a longer request gets the connection aborted. */
export const MAX_REQUEST_BYTES = 65536;

export interface ApiRequest {
  readonly method: Uint8Array;
  readonly arg: Uint8Array;
  readonly source: Uint8Array;
  readonly dest: Uint8Array;
  readonly payload: Uint8Array;
}

const NUL = 0;
const SPACE = 0x20;
const PLUS = 0x2b;

function equalsAscii(bytes: Uint8Array, text: string): boolean {
  return bytes.length === text.length && Buffer.from(bytes).toString('latin1') === text;
}

/**
 * Parses a complete request, or returns null where qubesd logs "framing error" and aborts the
 * connection without a reply: no NUL, not exactly four space-separated header fields, or a
 * destination type other than `name` (after mapping `keyword adminvm` to `name dom0`).
 */
export function parseRequest(untrusted: Uint8Array): ApiRequest | null {
  const nul = untrusted.indexOf(NUL);
  if (nul < 0) return null;
  const header = untrusted.subarray(0, nul);
  const payload = untrusted.subarray(nul + 1);
  // bytes.split(b" ", 3) unpacked into four names: fewer than three spaces is a ValueError.
  const fields: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < header.length && fields.length < 3; i++) {
    if (header[i] === SPACE) {
      fields.push(header.subarray(start, i));
      start = i + 1;
    }
  }
  if (fields.length < 3) return null;
  fields.push(header.subarray(start));
  const [methArg, source, destType, destField] = fields as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  let dest = destField;
  if (equalsAscii(destType, 'keyword') && equalsAscii(dest, 'adminvm')) {
    dest = Buffer.from('dom0');
  } else if (!equalsAscii(destType, 'name')) {
    return null;
  }
  const plus = methArg.indexOf(PLUS);
  const method = plus < 0 ? methArg : methArg.subarray(0, plus);
  const arg = plus < 0 ? new Uint8Array(0) : methArg.subarray(plus + 1);
  return { method, arg, source, dest, payload };
}

export function encodeOk(content: string | null): Buffer {
  return Buffer.concat([Buffer.from('0\0'), Buffer.from(content ?? '', 'utf8')]);
}

export function encodeException(excType: string, message: string): Buffer {
  return Buffer.from(`2\0${excType}\0\0${message}\0`, 'utf8');
}
