/**
 * Reads the fields repodata needs from a package the test suite made itself (our forge or
 * rpmbuild): lead, signature header, main header (format_v4.md, format_header.md). This is the
 * simulator's trusted side; the hardened parser of untrusted packages lives in protocol/.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { ForgeError } from './errors.ts';
import { RpmType } from './rpm-tags.ts';

const LEAD_SIZE = 96;
const HEADER_PREAMBLE = 16;
/** Far above any header the forge or rpmbuild writes for a template. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

export type TagValue = string | string[] | number[] | Uint8Array;

export interface ParsedHeader {
  readonly start: number;
  readonly end: number;
  readonly tags: ReadonlyMap<number, TagValue>;
}

export interface PackageSummary {
  readonly path: string;
  readonly sha256: string;
  readonly fileSize: number;
  readonly mtime: number;
  readonly signature: ParsedHeader;
  readonly header: ParsedHeader;
}

function fail(message: string): never {
  throw new ForgeError('forge.package-read', message);
}

function parseHeaderAt(bytes: Uint8Array, start: number): ParsedHeader {
  if (start + HEADER_PREAMBLE > bytes.length) fail('truncated header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint32(start) !== 0x8eade801) fail(`no header magic at ${start}`);
  const il = view.getUint32(start + 8);
  const dl = view.getUint32(start + 12);
  const dataStart = start + HEADER_PREAMBLE + il * 16;
  const end = dataStart + dl;
  if (il * 16 + dl > MAX_HEADER_BYTES || end > bytes.length) fail('header larger than the file');
  const tags = new Map<number, TagValue>();
  const decoder = new TextDecoder();
  const strings = (at: number, count: number): string[] => {
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const nul = bytes.indexOf(0, at);
      if (nul < 0 || nul >= end) fail('unterminated string');
      out.push(decoder.decode(bytes.subarray(at, nul)));
      at = nul + 1;
    }
    return out;
  };
  for (let i = 0; i < il; i++) {
    const e = start + HEADER_PREAMBLE + i * 16;
    const tag = view.getUint32(e);
    const type = view.getUint32(e + 4);
    const at = dataStart + view.getInt32(e + 8);
    const count = view.getUint32(e + 12);
    if (at < dataStart || at > end) fail(`tag ${tag} data outside the header`);
    switch (type) {
      case RpmType.STRING:
        tags.set(tag, strings(at, 1)[0]!);
        break;
      case RpmType.I18NSTRING:
      case RpmType.STRING_ARRAY:
        tags.set(tag, strings(at, count));
        break;
      case RpmType.INT16:
      case RpmType.INT32:
      case RpmType.INT64: {
        const width = type === RpmType.INT16 ? 2 : type === RpmType.INT32 ? 4 : 8;
        if (at + width * count > end) fail(`tag ${tag} overruns the header`);
        const values: number[] = [];
        for (let k = 0; k < count; k++) {
          const p = at + k * width;
          values.push(
            width === 2 ? view.getUint16(p) : width === 4 ? view.getUint32(p) : Number(view.getBigUint64(p)),
          );
        }
        tags.set(tag, values);
        break;
      }
      default:
        if (at + count > end) fail(`tag ${tag} overruns the header`);
        tags.set(tag, bytes.subarray(at, at + count));
    }
  }
  return { start, end, tags };
}

/** Reads lead, signature header and main header of the package at `path`. */
export async function readPackage(path: string): Promise<PackageSummary> {
  const info = await stat(path);
  const handle = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
    }
    const headLength = Math.min(info.size, MAX_HEADER_BYTES);
    const bytes = new Uint8Array(headLength);
    await handle.read(bytes, 0, headLength, 0);
    if (bytes.length < LEAD_SIZE || bytes[0] !== 0xed || bytes[1] !== 0xab) fail('not an RPM package');
    const signature = parseHeaderAt(bytes, LEAD_SIZE);
    const header = parseHeaderAt(bytes, Math.ceil(signature.end / 8) * 8);
    return {
      path,
      sha256: hash.digest('hex'),
      fileSize: info.size,
      mtime: Math.floor(info.mtimeMs / 1000),
      signature,
      header,
    };
  } finally {
    await handle.close();
  }
}

/** Typed accessors over a parsed header. */
export function tagString(h: ParsedHeader, tag: number): string | undefined {
  const v = h.tags.get(tag);
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

export function tagStrings(h: ParsedHeader, tag: number): string[] {
  const v = h.tags.get(tag);
  if (typeof v === 'string') return [v];
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : [];
}

export function tagNumbers(h: ParsedHeader, tag: number): number[] {
  const v = h.tags.get(tag);
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? v : [];
}
