/**
 * Writes cpio archives byte by byte as rpm does (rpm lib/cpio.cc), with hooks to corrupt any
 * field: the hostile-input tests start from a valid archive and change one thing.
 */
const encoder = new TextEncoder();

export interface NewcFields {
  readonly name: string;
  readonly mode: number;
  readonly size?: number;
  readonly nlink?: number;
  /** Replaces the 13 hex fields (after the magic) verbatim. */
  readonly rawFields?: string;
  readonly magic?: string;
  /** Overrides c_namesize. */
  readonly nameSize?: number;
  readonly check?: number;
  /** Raw name bytes (NUL included) instead of name + NUL. */
  readonly rawName?: Uint8Array;
}

export function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(length: number): Uint8Array {
  return new Uint8Array((4 - (length % 4)) % 4);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One newc entry at a 4-aligned offset: header, name, padding, data, padding. */
export function newcEntry(f: NewcFields, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const name = f.rawName ?? encoder.encode(f.name + '\0');
  const fields =
    f.rawFields ??
    [
      0, // ino
      f.mode,
      0, // uid
      0, // gid
      f.nlink ?? 1,
      0, // mtime
      f.size ?? data.length,
      0,
      0,
      0,
      0,
      f.nameSize ?? name.length,
      f.check ?? 0,
    ]
      .map(hex8)
      .join('');
  const head = concat([encoder.encode((f.magic ?? '070701') + fields), name]);
  return concat([head, pad4(head.length), data, pad4(data.length)]);
}

export function trailer(): Uint8Array {
  return newcEntry({ name: 'TRAILER!!!', mode: 0 });
}

/** One stripped (07070X) entry: magic, file index, padding, data, padding. */
export function strippedEntry(
  fx: number,
  data: Uint8Array = new Uint8Array(0),
  rawIndex?: string,
): Uint8Array {
  const head = encoder.encode('07070X' + (rawIndex ?? hex8(fx)));
  return concat([head, pad4(head.length), data, pad4(data.length)]);
}

export async function* chunked(bytes: Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) {
    yield await Promise.resolve(bytes.subarray(i, i + size));
  }
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of source) parts.push(p);
  return concat(parts);
}
