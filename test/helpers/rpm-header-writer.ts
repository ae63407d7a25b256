/**
 * Serialises RPM headers for tests that need packages rpm would not write: tags moved between
 * headers, duplicated, regions removed. Layout as in the RPM file format: region entry first,
 * data in index order with each entry aligned for its type, region trailer last.
 */
import type { PackageHead } from '../../protocol/rpm-package.ts';
import type { RpmHeader } from '../../protocol/rpm-header.ts';

export interface RawEntry {
  tag: number;
  type: number;
  count: number;
  data: Uint8Array;
}

const ALIGN = [1, 1, 1, 2, 4, 8, 1, 1, 1, 1];

export function rawEntries(header: RpmHeader): RawEntry[] {
  return header.entries.map((e) => ({
    tag: e.tag,
    type: e.type,
    count: e.count,
    data: header.data(e).slice(),
  }));
}

/** A header with a region tag spanning all entries (regionTag null: no region at all). */
export function writeHeader(regionTag: number | null, entries: readonly RawEntry[]): Uint8Array {
  const il = entries.length + (regionTag === null ? 0 : 1);
  const offsets: number[] = [];
  let size = 0;
  for (const e of entries) {
    const a = ALIGN[e.type] ?? 1;
    size = Math.ceil(size / a) * a;
    offsets.push(size);
    size += e.data.length;
  }
  const trailerAt = size;
  const dl = size + (regionTag === null ? 0 : 16);
  const out = new Uint8Array(16 + il * 16 + dl);
  const view = new DataView(out.buffer);
  out.set([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
  view.setUint32(8, il);
  view.setUint32(12, dl);
  let p = 16;
  const put = (tag: number, type: number, offset: number, count: number) => {
    view.setUint32(p, tag);
    view.setUint32(p + 4, type);
    view.setInt32(p + 8, offset);
    view.setUint32(p + 12, count);
    p += 16;
  };
  const dataStart = 16 + il * 16;
  if (regionTag !== null) put(regionTag, 7, trailerAt, 16);
  entries.forEach((e, i) => {
    put(e.tag, e.type, offsets[i]!, e.count);
    out.set(e.data, dataStart + offsets[i]!);
  });
  if (regionTag !== null) {
    const t = new DataView(out.buffer, dataStart + trailerAt, 16);
    t.setUint32(0, regionTag);
    t.setUint32(4, 7);
    t.setInt32(8, -il * 16);
    t.setUint32(12, 16);
  }
  return out;
}

/** Lead + signature header + zero padding + main header + payload. */
export function assemblePackage(
  lead: Uint8Array,
  signature: Uint8Array,
  header: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const pad = (8 - (signature.length % 8)) % 8;
  const out = new Uint8Array(lead.length + signature.length + pad + header.length + payload.length);
  let p = 0;
  for (const part of [lead, signature, new Uint8Array(pad), header, payload]) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Rebuilds a package from a parsed head with edited entry lists. */
export function rebuildPackage(
  file: Uint8Array,
  head: PackageHead,
  edit: {
    signature?: (e: RawEntry[]) => RawEntry[];
    header?: (e: RawEntry[]) => RawEntry[];
    signatureRegion?: number | null;
  },
): Uint8Array {
  const sig = (edit.signature ?? ((e) => e))(rawEntries(head.signature));
  const main = edit.header === undefined ? null : edit.header(rawEntries(head.header));
  return assemblePackage(
    file.subarray(0, 96),
    writeHeader(edit.signatureRegion === undefined ? 62 : edit.signatureRegion, sig),
    main === null ? head.headerBytes : writeHeader(63, main),
    file.subarray(head.payloadOffset),
  );
}
