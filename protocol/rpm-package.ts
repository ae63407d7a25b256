/**
 * The head of an RPM package, in file order (RPM file format): lead (96 bytes), signature header,
 * zero padding to a multiple of 8 bytes, main header; the payload follows. `readPackageHead` pulls
 * these from a stream with a state machine that buffers at most one header at a time;
 * `parsePackageHead` does the same over a buffer.
 *
 * The padding after the signature header is not covered by any digest; rpm skips it unread, tmpl
 * requires it to be zero.
 */
import { ByteReader } from './byte-reader.ts';
import { ParseError } from './errors.ts';
import { LEAD_SIZE, parseLead, type RpmLead } from './rpm-lead.ts';
import {
  HEADER_PREAMBLE_SIZE,
  MAIN_HEADER,
  parseHeader,
  parseHeaderPreamble,
  SIGNATURE_HEADER,
  type HeaderKind,
  type RpmHeader,
} from './rpm-header.ts';

export interface PackageHead {
  readonly lead: RpmLead;
  readonly signature: RpmHeader;
  readonly header: RpmHeader;
  /** Lead + signature header + padding + main header, exactly as in the file. */
  readonly headBytes: Uint8Array;
  /** Exactly the main header's bytes: what header digests and header signatures cover. */
  readonly headerBytes: Uint8Array;
  /** Offset of the first payload byte. */
  readonly payloadOffset: number;
}

/** Zero bytes that align the main header on 8 bytes after a signature header of this length. */
export function signaturePadding(signatureHeaderLength: number): number {
  return (8 - (signatureHeaderLength % 8)) % 8;
}

function checkPadding(bytes: Uint8Array, base: number): void {
  const i = bytes.findIndex((b) => b !== 0);
  if (i !== -1) {
    throw new ParseError('rpm.signature.padding', 'non-zero padding after the signature header', base + i);
  }
}

/**
 * The state machine shared by both entry points, as a generator: it yields the number of bytes it
 * needs next and receives exactly that many. Driving it needs no I/O of its own.
 */
function* headMachine(): Generator<number, PackageHead, Uint8Array> {
  const parts: Uint8Array[] = [];
  let offset = 0;
  function* next(n: number): Generator<number, Uint8Array, Uint8Array> {
    const b = yield n;
    parts.push(b);
    offset += n;
    return b;
  }
  const lead = parseLead(yield* next(LEAD_SIZE), 0);
  function* readHeader(kind: HeaderKind): Generator<number, RpmHeader, Uint8Array> {
    const start = offset;
    const pre = yield* next(HEADER_PREAMBLE_SIZE);
    const { totalLength } = parseHeaderPreamble(pre, start, kind);
    const rest = yield* next(totalLength - HEADER_PREAMBLE_SIZE);
    const bytes = new Uint8Array(totalLength);
    bytes.set(pre, 0);
    bytes.set(rest, HEADER_PREAMBLE_SIZE);
    return parseHeader(bytes, start, kind);
  }
  const signature = yield* readHeader(SIGNATURE_HEADER);
  const padStart = offset;
  checkPadding(yield* next(signaturePadding(signature.bytes.length)), padStart);
  const header = yield* readHeader(MAIN_HEADER);
  const headBytes = new Uint8Array(offset);
  let p = 0;
  for (const part of parts) {
    headBytes.set(part, p);
    p += part.length;
  }
  return { lead, signature, header, headBytes, headerBytes: header.bytes, payloadOffset: offset };
}

/** Reads the head from a stream; the reader is left at the first payload byte. */
export async function readPackageHead(reader: ByteReader): Promise<PackageHead> {
  const start = reader.position;
  const machine = headMachine();
  let step = machine.next();
  while (step.done !== true) {
    let bytes: Uint8Array;
    try {
      bytes = await reader.readExact(step.value);
    } catch (cause) {
      if (cause instanceof ParseError && cause.code === 'stream.truncated') {
        throw new ParseError('rpm.truncated', 'package ends inside its head', reader.position - start, {
          cause,
        });
      }
      throw cause;
    }
    step = machine.next(bytes);
  }
  return step.value;
}

/** Parses the head from a buffer that holds at least the whole head (the payload may follow). */
export function parsePackageHead(bytes: Uint8Array): PackageHead {
  const machine = headMachine();
  let offset = 0;
  let step = machine.next();
  while (step.done !== true) {
    const n = step.value;
    if (offset + n > bytes.length) {
      throw new ParseError('rpm.truncated', 'package ends inside its head', bytes.length);
    }
    step = machine.next(bytes.subarray(offset, offset + n));
    offset += n;
  }
  return step.value;
}
