/**
 * A strict streaming reader of rpm's cpio payloads (untrusted: decompressed from the network).
 *
 * Two layouts, as rpm writes them (rpm lib/cpio.cc, lib/rpmfi.cc rpmfiArchiveWriteHeader):
 * - "newc" (magic 070701): 13 fields of 8 hex digits, the NUL-terminated name, zero padding to
 *   4 bytes, the data, zero padding to 4 bytes. rpm names files "./" + path.
 * - stripped (magic 07070X), used when the header has LONGFILESIZES (a file of 4 GiB or more):
 *   magic, 8 hex digits of the file's index in the header's file list, padding to 4, the data,
 *   padding to 4. Name, mode and size come from the header.
 * Both end with a newc entry named TRAILER!!! (rpm writes the trailer in newc even for stripped
 * archives) and its padding; rpm writes nothing after it.
 *
 * Buffers: one decompressed chunk plus one header (at most CPIO_MAX_NAME_SIZE + 110 bytes).
 * File data streams through without being held.
 *
 * Over 300 lines: both layouts are one streaming reader sharing its buffer, padding and entry
 * state.
 */
import { ParseError, TmplError } from '../protocol/index.ts';
import type { CpioErrorCode } from '../protocol/error-codes.ts';
export type { CpioErrorCode };

/** rpm's CPIO_NAMESIZE_MAX: the longest name, terminating NUL included. */
export const CPIO_MAX_NAME_SIZE = 4096;
/** A symlink's data is its target; PATH_MAX bounds it. */
export const CPIO_MAX_SYMLINK_SIZE = 4096;
/** Size of a newc header after the magic (13 fields of 8 hex digits). */
const NEWC_FIELDS_SIZE = 13 * 8;
const MAGIC_SIZE = 6;
/** GNU cpio pads its archives to 512-byte blocks; rpm does not. */
export const CPIO_BLOCK_SIZE = 512;
const TRAILER_NAME = 'TRAILER!!!';

const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
const KNOWN_TYPES = new Set([S_IFREG, S_IFDIR, S_IFLNK, 0o020000, 0o060000, 0o010000, 0o140000]);

/** What the stripped layout needs from the header's file list (PackageInfo.files fits). */
export interface CpioFileListEntry {
  readonly path: string;
  readonly size: number;
  readonly mode: number;
}

export interface CpioOptions {
  /** The header's file list, in header order; required to read the stripped layout. */
  readonly files?: readonly CpioFileListEntry[];
  /** Accept zero bytes after the trailer up to a CPIO_BLOCK_SIZE boundary (GNU cpio output). */
  readonly allowBlockPadding?: boolean;
}

export interface CpioEntry {
  /** The name as stored ("./usr/bin/x"); for stripped entries "." + the header's path. */
  readonly name: string;
  /** The install path: "/" + the name without its leading "./". */
  readonly path: string;
  /** Index in the header's file list (stripped layout), or null (newc names the file). */
  readonly fileIndex: number | null;
  readonly mode: number;
  readonly size: number;
  /** c_nlink (newc), or null (stripped: the header has it). */
  readonly nlink: number | null;
  /**
   * The file's data, iterable once. The consumer may stop early; the reader skips whatever is
   * left before the next entry.
   */
  readonly content: AsyncIterable<Uint8Array>;
}

/** Pull reader over the decompressed stream; tracks the archive offset for error reports. */
class CpioReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #pending: Uint8Array = new Uint8Array(0);
  #ended = false;
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    while (this.#pending.length === 0) {
      if (this.#ended) return false;
      const r = await this.#iterator.next();
      if (r.done === true) {
        this.#ended = true;
        return false;
      }
      this.#pending = r.value;
    }
    return true;
  }

  /** Exactly n bytes (n is bounded by the caller), or 'cpio.truncated'. */
  async readExact(n: number, what: string): Promise<Uint8Array> {
    if (this.#pending.length >= n) {
      const out = this.#pending.subarray(0, n);
      this.#pending = this.#pending.subarray(n);
      this.offset += n;
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (!(await this.#fill())) {
        throw new ParseError('cpio.truncated', `archive ends inside ${what}`, this.offset + filled);
      }
      const use = Math.min(n - filled, this.#pending.length);
      out.set(this.#pending.subarray(0, use), filled);
      this.#pending = this.#pending.subarray(use);
      filled += use;
    }
    this.offset += n;
    return out;
  }

  /** Up to max bytes (at least one), or undefined at the end of the stream. */
  async readSome(max: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill())) return undefined;
    const out = this.#pending.subarray(0, Math.min(max, this.#pending.length));
    this.#pending = this.#pending.subarray(out.length);
    this.offset += out.length;
    return out;
  }

  /** Zero padding up to the next multiple of 4 of the archive offset. */
  async readPadding(what: string): Promise<void> {
    const n = (4 - (this.offset % 4)) % 4;
    if (n === 0) return;
    const start = this.offset;
    const pad = await this.readExact(n, what);
    const bad = pad.findIndex((b) => b !== 0);
    if (bad !== -1) throw new ParseError('cpio.padding', `non-zero padding after ${what}`, start + bad);
  }

  async close(): Promise<void> {
    await this.#iterator.return?.();
  }
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/** One 8-digit hex field; only hex digits (rpm's strtoul would also take spaces and signs). */
function hexField(bytes: Uint8Array, at: number, offset: number, field: string): number {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const c = bytes[at + i]!;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    else throw new ParseError('cpio.header', `${field} is not 8 hex digits`, offset + at + i);
    value = value * 16 + d;
  }
  return value;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks a stored name and returns the install path. rpm stores "./" + the absolute path; a bare
 * relative name is accepted too. Absolute names, empty, "." and ".." components are refused so
 * that no name can point outside the directory it is unpacked into.
 */
export function checkCpioName(name: string, offset: number): string {
  const relative = name.startsWith('./') ? name.slice(2) : name;
  if (relative === '' || relative.startsWith('/')) {
    throw new ParseError('cpio.name', `name '${name}' is empty or absolute`, offset);
  }
  for (const part of relative.split('/')) {
    if (part === '' || part === '.' || part === '..') {
      throw new ParseError('cpio.name', `name '${name}' has an empty, '.' or '..' component`, offset);
    }
  }
  return '/' + relative;
}

function checkType(mode: number, offset: number): number {
  const type = mode & S_IFMT;
  if (!KNOWN_TYPES.has(type) || mode > 0o177777) {
    throw new ParseError('cpio.mode', `unknown file type in mode ${mode.toString(8)}`, offset);
  }
  return type;
}

/** Data size rules common to both layouts: only regular files and symlinks carry data. */
function checkSize(type: number, size: number, offset: number): void {
  if (type === S_IFLNK ? size === 0 || size > CPIO_MAX_SYMLINK_SIZE : type !== S_IFREG && size !== 0) {
    throw new ParseError('cpio.size', `size ${size} is impossible for this file type`, offset);
  }
}

interface RawHeader {
  readonly kind: 'newc' | 'stripped';
  readonly entry: Omit<CpioEntry, 'content'> | null; // null: the trailer
}

async function readHeader(
  reader: CpioReader,
  layout: 'newc' | 'stripped' | undefined,
  opts: CpioOptions,
): Promise<RawHeader> {
  const start = reader.offset;
  const magic = ascii(await reader.readExact(MAGIC_SIZE, 'a header'));
  if (magic === '07070X') {
    if (layout === 'newc') throw new ParseError('cpio.magic', 'stripped entry in a newc archive', start);
    const files = opts.files;
    if (files === undefined) {
      throw new ParseError('cpio.magic', 'stripped archive without the header file list', start);
    }
    const fx = hexField(await reader.readExact(8, 'a header'), 0, start + MAGIC_SIZE, 'file index');
    await reader.readPadding('a header');
    const file = files[fx];
    if (file === undefined) {
      throw new ParseError(
        'cpio.file-index',
        `file index ${fx} is not in the header (${files.length} files)`,
        start + 6,
      );
    }
    const type = checkType(file.mode, start);
    const size = type === S_IFREG || type === S_IFLNK ? file.size : 0;
    checkSize(type, size, start);
    return {
      kind: 'stripped',
      entry: {
        name: '.' + file.path,
        path: checkCpioName('.' + file.path, start),
        fileIndex: fx,
        mode: file.mode,
        size,
        nlink: null,
      },
    };
  }
  if (magic !== '070701')
    throw new ParseError('cpio.magic', `bad magic '${magic.replace(/[^ -~]/g, '?')}'`, start);

  const fieldsAt = reader.offset;
  const fields = await reader.readExact(NEWC_FIELDS_SIZE, 'a header');
  const field = (i: number, name: string): number => hexField(fields, i * 8, fieldsAt, name);
  const mode = field(1, 'c_mode');
  const nlink = field(4, 'c_nlink');
  const size = field(6, 'c_filesize');
  const nameSize = field(11, 'c_namesize');
  const check = field(12, 'c_check');
  for (let i = 0; i < 13; i++) if (i !== 12) field(i, 'field');
  if (check !== 0) throw new ParseError('cpio.header', 'c_check must be 0 in a newc archive', fieldsAt + 96);
  if (nameSize < 2 || nameSize > CPIO_MAX_NAME_SIZE) {
    throw new ParseError(
      'cpio.name',
      `name size ${nameSize} outside 2..${CPIO_MAX_NAME_SIZE}`,
      fieldsAt + 88,
    );
  }
  const nameAt = reader.offset;
  const nameBytes = await reader.readExact(nameSize, 'a name');
  const nul = nameBytes.indexOf(0);
  if (nul !== nameSize - 1) {
    throw new ParseError(
      'cpio.name',
      'name is not exactly one NUL-terminated string',
      nameAt + Math.max(nul, 0),
    );
  }
  let name: string;
  try {
    name = utf8.decode(nameBytes.subarray(0, nameSize - 1));
  } catch (cause) {
    throw new ParseError('cpio.name', 'name is not UTF-8', nameAt, { cause });
  }
  await reader.readPadding('a name');
  if (name === TRAILER_NAME) {
    if (size !== 0) throw new ParseError('cpio.trailer', 'trailer with data', fieldsAt + 48);
    return { kind: 'newc', entry: null };
  }
  if (layout === 'stripped') {
    throw new ParseError('cpio.magic', 'newc entry in a stripped archive', start);
  }
  const path = checkCpioName(name, nameAt);
  const type = checkType(mode, fieldsAt + 8);
  checkSize(type, size, fieldsAt + 48);
  return { kind: 'newc', entry: { name, path, fileIndex: null, mode, size, nlink } };
}

/** Content of one entry: exactly `size` bytes, then the padding. Iterable once. */
class EntryContent implements AsyncIterable<Uint8Array> {
  readonly #reader: CpioReader;
  #left: number;
  #started = false;

  constructor(reader: CpioReader, size: number) {
    this.#reader = reader;
    this.#left = size;
  }

  get done(): boolean {
    return this.#left === 0;
  }

  async *#read(): AsyncGenerator<Uint8Array> {
    while (this.#left > 0) {
      const chunk = await this.#reader.readSome(this.#left);
      if (chunk === undefined) {
        throw new ParseError(
          'cpio.truncated',
          `archive ends ${this.#left} bytes before the end of a file`,
          this.#reader.offset,
        );
      }
      this.#left -= chunk.length;
      yield chunk;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#started) throw new TmplError('cpio.content-consumed', 'entry content is iterable once');
    this.#started = true;
    return this.#read();
  }

  /** Reads and drops whatever the consumer left. */
  async skip(): Promise<void> {
    this.#started = true;
    for await (const chunk of this.#read()) void chunk;
  }
}

async function checkEnd(reader: CpioReader, opts: CpioOptions): Promise<void> {
  const at = reader.offset;
  const limit =
    opts.allowBlockPadding === true ? (CPIO_BLOCK_SIZE - (at % CPIO_BLOCK_SIZE)) % CPIO_BLOCK_SIZE : 0;
  let seen = 0;
  for (;;) {
    const chunk = await reader.readSome(CPIO_BLOCK_SIZE);
    if (chunk === undefined) return;
    const bad = chunk.findIndex((b) => b !== 0);
    if (bad !== -1 || seen + chunk.length > limit) {
      throw new ParseError('cpio.trailing-data', 'data after the trailer', at + seen + Math.max(bad, 0));
    }
    seen += chunk.length;
  }
}

/**
 * Yields the archive's entries one at a time, through the trailer; throws ParseError with a
 * 'cpio.*' code on anything rpm would not write. The stream must end after the trailer.
 */
export async function* parseCpio(
  source: AsyncIterable<Uint8Array>,
  opts: CpioOptions = {},
): AsyncGenerator<CpioEntry> {
  const reader = new CpioReader(source);
  let layout: 'newc' | 'stripped' | undefined;
  try {
    for (;;) {
      const { kind, entry } = await readHeader(reader, layout, opts);
      if (entry === null) break;
      layout ??= kind;
      const content = new EntryContent(reader, entry.size);
      yield { ...entry, content };
      if (!content.done) await content.skip();
      await reader.readPadding('file data');
    }
    await checkEnd(reader, opts);
  } finally {
    await reader.close();
  }
}
