/**
 * Streams an RPM payload archive: cpio "newc" (magic 070701, 13 eight-digit hex fields, name,
 * padding to 4) with `./`-prefixed names, or rpm's stripped layout for packages carrying
 * LONGFILESIZES (magic 07070X, the file's index in the header as one hex field, padded to 4;
 * rpm's lib/cpio.c), each followed by the file data padded to 4, and the TRAILER!!! entry.
 *
 * Buffers nothing beyond one header; file data is passed through as the source yields it.
 */
import { ForgeError } from './errors.ts';

const NEWC_MAGIC = '070701';
const STRIPPED_MAGIC = '07070X';
const TRAILER_NAME = 'TRAILER!!!';
const encoder = new TextEncoder();

export interface CpioEntry {
  /** Name as written in the archive (rpm: "./" + absolute path). Ignored in stripped entries. */
  readonly name: string;
  /** st_mode with type bits. */
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
  readonly ino: number;
  readonly nlink?: number;
  readonly rdevMajor?: number;
  readonly rdevMinor?: number;
  /** Index in the header's file list; written instead of the name in stripped layout. */
  readonly fileIndex: number;
  /** Write the stripped 07070X header (index only) instead of a newc header. */
  readonly stripped?: boolean;
  /** Exactly `size` bytes (a symlink's target for symlinks); absent for empty entries. */
  readonly content?: () => AsyncIterable<Uint8Array>;
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function padding(offset: number): Uint8Array {
  return new Uint8Array((4 - (offset % 4)) % 4);
}

function newcHeader(e: Omit<CpioEntry, 'fileIndex' | 'content'>): Uint8Array {
  const name = encoder.encode(e.name + '\0');
  const fields = [
    e.ino,
    e.mode,
    0, // uid: rpm takes owners from FILEUSERNAME
    0,
    e.nlink ?? 1,
    e.mtime,
    e.size,
    0, // devmajor
    1, // devminor (rpm writes FILEDEVICES = 1)
    e.rdevMajor ?? 0,
    e.rdevMinor ?? 0,
    name.length,
    0, // check: unused in newc
  ];
  const head = encoder.encode(NEWC_MAGIC + fields.map(hex8).join(''));
  const out = new Uint8Array(head.length + name.length);
  out.set(head);
  out.set(name, head.length);
  return out;
}

/** Yields the archive bytes for `entries` in order, then the trailer. */
export async function* cpioArchive(entries: Iterable<CpioEntry>): AsyncGenerator<Uint8Array> {
  let offset = 0;
  const emit = (bytes: Uint8Array): Uint8Array => {
    offset += bytes.length;
    return bytes;
  };
  for (const entry of entries) {
    const head = entry.stripped ? encoder.encode(STRIPPED_MAGIC + hex8(entry.fileIndex)) : newcHeader(entry);
    yield emit(head);
    const pad = padding(offset);
    if (pad.length) yield emit(pad);
    let written = 0;
    if (entry.content) {
      for await (const chunk of entry.content()) {
        written += chunk.length;
        if (written > entry.size) break;
        yield emit(chunk);
      }
    }
    if (written !== entry.size) {
      throw new ForgeError(
        'forge.cpio-size',
        `content of ${entry.name} has ${written} bytes, declared ${entry.size}`,
      );
    }
    const tail = padding(offset);
    if (tail.length) yield emit(tail);
  }
  yield emit(newcHeader({ name: TRAILER_NAME, mode: 0, size: 0, mtime: 0, ino: 0, nlink: 1 }));
  const end = padding(offset);
  if (end.length) yield emit(end);
}
