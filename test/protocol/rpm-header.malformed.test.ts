/**
 * Generated hostile headers and package heads: each must be refused with its stable code and an
 * offset inside the input, quickly, without any other kind of exception.
 */
import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../protocol/byte-reader.ts';
import { ParseError } from '../../protocol/errors.ts';
import {
  MAIN_HEADER,
  MAX_HEADER_ARRAY_COUNT,
  MAX_HEADER_DATA_BYTES,
  MAX_HEADER_INDEX_ENTRIES,
  MAX_SIGNATURE_HEADER_DATA_BYTES,
  MAX_SIGNATURE_HEADER_INDEX_ENTRIES,
  parseHeader,
  SIGNATURE_HEADER,
  type HeaderKind,
} from '../../protocol/rpm-header.ts';
import { parsePackageHead, readPackageHead } from '../../protocol/rpm-package.ts';
import { RpmType, SigTag, Tag } from '../../protocol/rpm-tags.ts';
import { assemblePackage, writeHeader, type RawEntry } from '../helpers/rpm-header-writer.ts';

const enc = new TextEncoder();
const str = (s: string) => enc.encode(s + '\0');
function be(bytes: number, values: number[]): Uint8Array {
  const out = new Uint8Array(bytes * values.length);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (bytes === 2) v.setUint16(i * 2, x);
    else if (bytes === 4) v.setUint32(i * 4, x);
    else v.setBigUint64(i * 8, BigInt(x));
  });
  return out;
}

/** A small but complete main header: every type the parser handles. */
function mainEntries(): RawEntry[] {
  return [
    { tag: Tag.NAME, type: RpmType.STRING, count: 1, data: str('qubes-template-x') },
    { tag: Tag.VERSION, type: RpmType.STRING, count: 1, data: str('4.2') },
    { tag: Tag.EPOCH, type: RpmType.INT32, count: 1, data: be(4, [3]) },
    { tag: Tag.SUMMARY, type: RpmType.I18NSTRING, count: 1, data: str('summary') },
    { tag: Tag.FILESIZES, type: RpmType.INT32, count: 2, data: be(4, [10, 20]) },
    { tag: Tag.FILEMODES, type: RpmType.INT16, count: 2, data: be(2, [0o100644, 0o100600]) },
    { tag: Tag.BASENAMES, type: RpmType.STRING_ARRAY, count: 2, data: enc.encode('a\0b\0') },
    { tag: Tag.LONGSIZE, type: RpmType.INT64, count: 1, data: be(8, [2 ** 33]) },
    { tag: Tag.FILEDIGESTALGO, type: RpmType.INT32, count: 1, data: be(4, [8]) },
    { tag: 6000, type: RpmType.BIN, count: 3, data: Uint8Array.of(1, 2, 3) },
  ];
}
const validMain = () => writeHeader(63, mainEntries());

/** Header index entry i (0 = region) field: 0 tag, 4 type, 8 offset, 12 count. */
function setField(h: Uint8Array, i: number, field: 0 | 4 | 8 | 12, value: number): Uint8Array {
  const out = h.slice();
  new DataView(out.buffer).setUint32(16 + i * 16 + field, value >>> 0);
  return out;
}
function setU32(h: Uint8Array, at: number, value: number): Uint8Array {
  const out = h.slice();
  new DataView(out.buffer).setUint32(at, value >>> 0);
  return out;
}
const dataStart = (h: Uint8Array) => 16 + new DataView(h.buffer, h.byteOffset).getUint32(8) * 16;
const entryOffset = (h: Uint8Array, i: number) =>
  new DataView(h.buffer, h.byteOffset).getInt32(16 + i * 16 + 8);

function expectCode(fn: () => unknown, code: string, maxOffset: number): ParseError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ParseError);
  const e = caught as ParseError;
  expect(e.code).toBe(code);
  expect(e.offset).toBeGreaterThanOrEqual(0);
  expect(e.offset).toBeLessThanOrEqual(maxOffset);
  return e;
}

function rejects(h: Uint8Array, code: string, kind: HeaderKind = MAIN_HEADER) {
  return expectCode(() => parseHeader(h, 0, kind), code, h.length);
}

describe('a valid generated header', () => {
  it('parses, with every type read back', () => {
    const h = parseHeader(validMain(), 0, MAIN_HEADER);
    expect(h.string(Tag.NAME)).toBe('qubes-template-x');
    expect(h.numbers(Tag.EPOCH)).toEqual([3]);
    expect(h.string(Tag.SUMMARY)).toBe('summary');
    expect(h.numbers(Tag.FILESIZES)).toEqual([10, 20]);
    expect(h.numbers(Tag.FILEMODES)).toEqual([0o100644, 0o100600]);
    expect(h.stringArray(Tag.BASENAMES)).toEqual(['a', 'b']);
    expect(h.numbers(Tag.LONGSIZE)).toEqual([2 ** 33]);
    expect(h.binary(6000)).toEqual(Uint8Array.of(1, 2, 3));
    expect(() => h.numbers(Tag.NAME)).toThrowError(expect.objectContaining({ code: 'rpm.header.tag-type' }));
  });
});

describe('hostile headers are refused with a stable code', () => {
  it('bad magic, in any of its 8 bytes', () => {
    for (let i = 0; i < 8; i++) {
      const h = validMain();
      h[i]! ^= 0x10;
      expect(rejects(h, 'rpm.header.magic').offset).toBe(i);
    }
  });

  it('index counts: zero, above the limits, huge', () => {
    rejects(setU32(validMain(), 8, 0), 'rpm.header.index-count');
    rejects(setU32(validMain(), 8, MAX_HEADER_INDEX_ENTRIES + 1), 'rpm.header.index-count');
    rejects(setU32(validMain(), 8, 0xffffffff), 'rpm.header.index-count');
    const sig = writeHeader(62, [
      { tag: SigTag.SHA256HEADER, type: RpmType.STRING, count: 1, data: str('ab') },
    ]);
    rejects(
      setU32(sig, 8, MAX_SIGNATURE_HEADER_INDEX_ENTRIES + 1),
      'rpm.header.index-count',
      SIGNATURE_HEADER,
    );
  });

  it('data sizes above the limits, and sizes larger than the bytes', () => {
    rejects(setU32(validMain(), 12, MAX_HEADER_DATA_BYTES + 1), 'rpm.header.data-size');
    rejects(setU32(validMain(), 12, 0xffffffff), 'rpm.header.data-size');
    const sig = writeHeader(62, [{ tag: 1008, type: RpmType.BIN, count: 4, data: new Uint8Array(4) }]);
    rejects(setU32(sig, 12, MAX_SIGNATURE_HEADER_DATA_BYTES + 1), 'rpm.header.data-size', SIGNATURE_HEADER);
    const h = validMain();
    rejects(setU32(h, 12, new DataView(h.buffer).getUint32(12) + 1), 'rpm.truncated');
    rejects(setU32(h, 8, 40), 'rpm.truncated');
    for (const cut of [0, 5, 15, 16, 40, h.length - 1]) rejects(h.subarray(0, cut), 'rpm.truncated');
  });

  it('bytes after the header', () => {
    const h = validMain();
    const longer = new Uint8Array(h.length + 1);
    longer.set(h);
    rejects(longer, 'rpm.header.trailing');
  });

  it('missing or malformed regions', () => {
    rejects(writeHeader(null, mainEntries()), 'rpm.header.region');
    rejects(writeHeader(62, mainEntries()), 'rpm.header.region'); // signature region in the main header
    rejects(
      writeHeader(63, [{ tag: 1008, type: 7, count: 1, data: new Uint8Array(1) }]),
      'rpm.header.region',
      SIGNATURE_HEADER,
    );
    const h = validMain();
    const trailer = dataStart(h) + entryOffset(h, 0);
    rejects(setField(h, 0, 4, RpmType.INT32), 'rpm.header.region');
    rejects(setField(h, 0, 12, 15), 'rpm.header.region');
    rejects(setField(h, 0, 8, -16), 'rpm.header.region');
    rejects(setField(h, 0, 8, 0x7ffffff0), 'rpm.header.region');
    rejects(setField(h, 0, 8, entryOffset(h, 0) - 4), 'rpm.header.region'); // trailer read from entry data
    rejects(setU32(h, trailer, 62), 'rpm.header.region');
    rejects(setU32(h, trailer + 4, RpmType.STRING), 'rpm.header.region');
    rejects(setU32(h, trailer + 12, 17), 'rpm.header.region');
    rejects(setU32(h, trailer + 8, 16 * 11), 'rpm.header.region'); // positive
    rejects(setU32(h, trailer + 8, -(16 * 11 + 4)), 'rpm.header.region'); // not whole entries
    rejects(setU32(h, trailer + 8, -(16 * 12)), 'rpm.header.region'); // more entries than the header
    rejects(setU32(h, trailer + 8, -(16 * 10)), 'rpm.header.trailing'); // an entry outside the region
  });

  it('data after the region trailer', () => {
    const entries = mainEntries();
    const h = writeHeader(63, entries);
    // Grow the data by 8 bytes after the trailer.
    const grown = new Uint8Array(h.length + 8);
    grown.set(h);
    new DataView(grown.buffer).setUint32(12, new DataView(h.buffer).getUint32(12) + 8);
    rejects(grown, 'rpm.header.trailing');
  });

  it('reserved and negative tags, duplicate tags', () => {
    rejects(setField(validMain(), 1, 0, 99), 'rpm.header.entry-tag');
    rejects(setField(validMain(), 1, 0, 63), 'rpm.header.entry-tag');
    rejects(setField(validMain(), 1, 0, 0x800003e8), 'rpm.header.entry-tag');
    rejects(setField(validMain(), 2, 0, Tag.NAME), 'rpm.header.duplicate-tag');
  });

  it('bad types: NULL, past I18NSTRING, huge, and known tags with the wrong type', () => {
    for (const t of [0, 10, 16, 0xffffffff])
      rejects(setField(validMain(), 10, 4, t), 'rpm.header.entry-type');
    rejects(
      writeHeader(63, [{ tag: Tag.NAME, type: RpmType.BIN, count: 2, data: str('x') }]),
      'rpm.header.entry-type',
    );
    rejects(
      writeHeader(63, [{ tag: Tag.EPOCH, type: RpmType.INT16, count: 1, data: be(2, [1]) }]),
      'rpm.header.entry-type',
    );
    // String-class tags may use any string type, as in rpm.
    expect(() =>
      parseHeader(
        writeHeader(63, [{ tag: Tag.NAME, type: RpmType.I18NSTRING, count: 1, data: str('x') }]),
        0,
        MAIN_HEADER,
      ),
    ).not.toThrow();
    // The signature header is not type-checked by tag (rpm cannot either).
    expect(() =>
      parseHeader(
        writeHeader(62, [{ tag: Tag.NAME, type: RpmType.BIN, count: 2, data: str('x') }]),
        0,
        SIGNATURE_HEADER,
      ),
    ).not.toThrow();
  });

  it('bad counts: zero, beyond the data, beyond the array limit, STRING with count 2', () => {
    rejects(setField(validMain(), 3, 12, 0), 'rpm.header.entry-count');
    rejects(setField(validMain(), 3, 12, 0xffffffff), 'rpm.header.entry-count');
    const big = new Uint8Array(MAX_HEADER_ARRAY_COUNT + 1); // all NULs: that many empty strings
    rejects(
      writeHeader(63, [
        { tag: 7000, type: RpmType.STRING_ARRAY, count: MAX_HEADER_ARRAY_COUNT + 1, data: big },
      ]),
      'rpm.header.entry-count',
    );
    expect(() =>
      parseHeader(
        writeHeader(63, [
          { tag: 7000, type: RpmType.STRING_ARRAY, count: MAX_HEADER_ARRAY_COUNT, data: big.subarray(1) },
        ]),
        0,
        MAIN_HEADER,
      ),
    ).not.toThrow();
    rejects(setField(validMain(), 1, 12, 2), 'rpm.header.entry-count');
  });

  it('offsets: negative, past the store, misaligned, overlapping, over the trailer', () => {
    const h = validMain();
    const dl = new DataView(h.buffer).getUint32(12);
    rejects(setField(h, 1, 8, -1), 'rpm.header.entry-offset');
    rejects(setField(h, 1, 8, 0x80000000), 'rpm.header.entry-offset');
    rejects(setField(h, 10, 8, dl + 1), 'rpm.header.entry-offset');
    rejects(setField(h, 3, 8, entryOffset(h, 3) + 2), 'rpm.header.entry-alignment'); // INT32
    rejects(setField(h, 6, 8, entryOffset(h, 6) + 1), 'rpm.header.entry-alignment'); // INT16
    rejects(setField(h, 8, 8, entryOffset(h, 8) + 4), 'rpm.header.entry-alignment'); // INT64
    rejects(setField(h, 2, 8, entryOffset(h, 1)), 'rpm.header.entry-overlap'); // same data as NAME
    rejects(setField(h, 2, 8, entryOffset(h, 1) + 3), 'rpm.header.entry-overlap');
    rejects(setField(h, 10, 8, dl - 16), 'rpm.header.region'); // BIN data on the trailer
    rejects(setField(h, 10, 12, dl - entryOffset(h, 10)), 'rpm.header.region');
  });

  it('strings: unterminated STRING, STRING_ARRAY and I18NSTRING, arrays with too few strings', () => {
    const h = validMain();
    const dl = new DataView(h.buffer).getUint32(12);
    // The last byte of the store is the trailer's count (16): no NUL after it.
    for (const type of [RpmType.STRING, RpmType.STRING_ARRAY, RpmType.I18NSTRING]) {
      const e = setField(setField(h, 10, 4, type), 10, 12, 1);
      rejects(setField(e, 10, 8, dl - 1), 'rpm.header.string');
    }
    // BASENAMES claiming one string more than there are NULs left in the store.
    const at = dataStart(h) + entryOffset(h, 7);
    const nuls = h.subarray(at).filter((b) => b === 0).length;
    rejects(setField(h, 7, 12, nuls + 1), 'rpm.header.string');
    // EPOCH with as many elements as half the store: runs past it.
    rejects(setField(h, 3, 12, Math.floor(dl / 2)), 'rpm.header.entry-size');
  });
});

/** A synthetic package: lead, signature header, padding, main header, payload. */
function lead(): Uint8Array {
  const l = new Uint8Array(96);
  l.set([0xed, 0xab, 0xee, 0xdb, 3, 0]);
  l.set(enc.encode('qubes-template-x-4.2'), 10);
  new DataView(l.buffer).setUint16(78, 5);
  return l;
}
function sigHeader(extra = 0): Uint8Array {
  return writeHeader(62, [
    { tag: SigTag.SHA256HEADER, type: RpmType.STRING, count: 1, data: str('0'.repeat(64)) },
    { tag: 1008, type: RpmType.BIN, count: 3 + extra, data: new Uint8Array(3 + extra) },
  ]);
}
function pkg(): Uint8Array {
  return assemblePackage(lead(), sigHeader(), validMain(), enc.encode('payload'));
}
async function* chunked(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield await Promise.resolve(bytes.slice(i, i + size));
}
async function readHead(bytes: Uint8Array, chunk = 7) {
  return readPackageHead(new ByteReader(chunked(bytes, chunk)));
}
async function bothReject(bytes: Uint8Array, code: string) {
  const sync = expectCode(() => parsePackageHead(bytes), code, bytes.length);
  let caught: unknown;
  try {
    await readHead(bytes);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ParseError);
  expect((caught as ParseError).code).toBe(code);
  expect((caught as ParseError).offset).toBe(sync.offset);
}

describe('hostile package heads', () => {
  it('a synthetic head parses the same from a buffer and from a stream in odd chunks', async () => {
    const bytes = pkg();
    const a = parsePackageHead(bytes);
    for (const size of [1, 7, 4096]) {
      const reader = new ByteReader(chunked(bytes, size));
      const b = await readPackageHead(reader);
      expect(b.headBytes).toEqual(a.headBytes);
      expect(b.payloadOffset).toBe(a.payloadOffset);
      const rest: number[] = [];
      for await (const c of reader.rest()) rest.push(...c);
      expect(new TextDecoder().decode(Uint8Array.from(rest))).toBe('payload');
    }
    expect(a.headerBytes).toEqual(validMain());
    expect(a.lead.name).toBe('qubes-template-x-4.2');
  });

  it('lead: magic, version and signature type are checked, like rpm', async () => {
    for (let i = 0; i < 4; i++) {
      const b = pkg();
      b[i]! ^= 1;
      await bothReject(b, 'rpm.lead.magic');
    }
    for (const major of [0, 2, 5, 255]) {
      const b = pkg();
      b[4] = major;
      await bothReject(b, 'rpm.lead.version');
    }
    for (const t of [0, 1, 4, 6, 0x105]) {
      const b = pkg();
      new DataView(b.buffer).setUint16(78, t);
      await bothReject(b, 'rpm.lead.signature-type');
    }
    // Bytes rpm ignores are ignored: minor, type, arch, name, os, reserved.
    const b = pkg();
    for (const i of [5, 6, 7, 8, 9, 10, 50, 75, 76, 77, 80, 95]) b[i] = 0xff;
    expect(() => parsePackageHead(b)).not.toThrow();
  });

  it('non-zero padding after the signature header', async () => {
    const s = sigHeader();
    expect(s.length % 8).not.toBe(0);
    const b = pkg();
    b[96 + s.length] = 1;
    await bothReject(b, 'rpm.signature.padding');
  });

  it('truncation anywhere in the head', async () => {
    const b = pkg();
    const head = parsePackageHead(b);
    for (let n = 0; n < head.payloadOffset; n += 13) await bothReject(b.subarray(0, n), 'rpm.truncated');
    await bothReject(b.subarray(0, head.payloadOffset - 1), 'rpm.truncated');
    expect(parsePackageHead(b.subarray(0, head.payloadOffset)).payloadOffset).toBe(head.payloadOffset);
  });

  it('a main header in place of the signature header, and the reverse', async () => {
    await bothReject(
      assemblePackage(lead(), validMain(), validMain(), new Uint8Array(0)),
      'rpm.header.region',
    );
    await bothReject(
      assemblePackage(lead(), sigHeader(), sigHeader(), new Uint8Array(0)),
      'rpm.header.region',
    );
  });

  it('a declared size far beyond the stream fails at the end of the stream, without reading on', async () => {
    const b = pkg();
    const at = 96 + sigHeader().length + ((8 - (sigHeader().length % 8)) % 8);
    new DataView(b.buffer).setUint32(at + 12, MAX_HEADER_DATA_BYTES);
    const e = await readHead(b).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ParseError);
    expect((e as ParseError).code).toBe('rpm.truncated');
    expect((e as ParseError).offset).toBe(b.length);
  });
});

describe('fuzzed heads never crash the parser', () => {
  it('2000 deterministic mutations: parse or ParseError, nothing else', async () => {
    let seed = 0x2021_20271;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const base = pkg();
    const started = Date.now();
    const codes = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const b = base.slice(0, i % 10 === 0 ? rand(base.length) : base.length);
      const flips = 1 + rand(4);
      for (let f = 0; f < flips; f++) {
        const at = rand(b.length || 1);
        if (b.length > 0) b[at] = rand(3) === 0 ? 0xff : b[at]! ^ (1 << rand(8));
      }
      try {
        const head = parsePackageHead(b);
        expect(head.payloadOffset).toBeLessThanOrEqual(b.length);
        codes.set('ok', (codes.get('ok') ?? 0) + 1);
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
        const code = (e as ParseError).code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      if (i % 200 === 0) await readHead(b, 5).catch((e: unknown) => expect(e).toBeInstanceOf(ParseError));
    }
    expect(Date.now() - started).toBeLessThan(20_000);
    // The mutations reach deep into the structure, not just the lead.
    expect(codes.size).toBeGreaterThan(8);
  });
});
