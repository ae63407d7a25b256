/**
 * dom0's /etc/qubes-rpc/admin.vm.volume.Import (and its ImportWithSize twin) for the simulator:
 * ask qubesd for a fresh volume file (internal.vm.volume.ImportBegin), copy stdin into it
 * keeping holes sparse (dd conv=sparse), report the outcome with internal.vm.volume.ImportEnd
 * and print qubesd's final reply, which is what the caller of the service receives.
 *
 * Which call this is: the script's basename, as upstream (one script installed under both
 * names); the Import script also honours QREXEC_SERVICE_FULL_NAME naming ImportWithSize, for a
 * qrexec layer that runs one file for both services.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { defaultInternalSocketPath } from './paths.ts';

/** dd bs=128K */
export const IMPORT_BLOCK_BYTES = 128 * 1024;
/** qubesd-query --single-line --max-bytes=21 for the size line. */
export const MAX_SIZE_LINE_BYTES = 21;

export interface ImportStreams {
  readonly stdin: AsyncIterable<Uint8Array>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Pulls exact byte counts from a stream; holds at most one chunk beyond what was asked. */
class PullReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private rest: Uint8Array = new Uint8Array(0);
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Up to `max` bytes; an empty result means end of input. */
  async read(max: number): Promise<Uint8Array> {
    while (this.rest.length === 0 && !this.done) {
      const next = await this.it.next();
      if (next.done) this.done = true;
      else this.rest = next.value;
    }
    const out = this.rest.subarray(0, max);
    this.rest = this.rest.subarray(out.length);
    return out;
  }
}

export async function qubesdQuery(socketPath: string, header: string, payload: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(socketPath, () => {
      socket.end(Buffer.concat([Buffer.from(`${header}\0`, 'latin1'), payload]));
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** qubesd-query --single-line: printable bytes up to a newline, read before anything else. */
async function readSizeLine(reader: PullReader): Promise<Uint8Array | string> {
  const line: number[] = [];
  for (let i = 0; i < MAX_SIZE_LINE_BYTES; i++) {
    const byte = await reader.read(1);
    if (byte.length === 0) return 'End of input without a newline';
    const c = byte[0] as number;
    if (c === 0x0a) return Uint8Array.from(line);
    if (c < 0x20 || c > 0x7e) return `Invalid byte ${c} in input`;
    line.push(c);
  }
  return `No newline found in first ${MAX_SIZE_LINE_BYTES} bytes`;
}

const ZERO_BLOCK = Buffer.alloc(IMPORT_BLOCK_BYTES);

/** dd's zero test, with a native compare: a byte loop in JS costs seconds per GiB of holes. */
function isZero(block: Uint8Array): boolean {
  return Buffer.from(block.buffer, block.byteOffset, block.length).equals(
    ZERO_BLOCK.subarray(0, block.length),
  );
}

/** dd bs=128K count=SIZE iflag=count_bytes,fullblock conv=sparse,notrunc,nocreat,fdatasync */
async function copySparse(reader: PullReader, file: string, size: number): Promise<number> {
  const handle = await fs.open(file, 'r+');
  let copied = 0;
  try {
    const block = Buffer.alloc(IMPORT_BLOCK_BYTES);
    while (copied < size) {
      // fullblock: fill the block before deciding whether it is all zeros.
      const want = Math.min(IMPORT_BLOCK_BYTES, size - copied);
      let filled = 0;
      while (filled < want) {
        const chunk = await reader.read(want - filled);
        if (chunk.length === 0) break;
        block.set(chunk, filled);
        filled += chunk.length;
      }
      if (filled === 0) break;
      const data = block.subarray(0, filled);
      if (!isZero(data)) await handle.write(data, 0, filled, copied);
      copied += filled;
      if (filled < want) break;
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return copied;
}

export async function volumeImportMain(
  argv: readonly string[],
  scriptName: string,
  env: NodeJS.ProcessEnv,
  streams: ImportStreams,
): Promise<number> {
  try {
    return await importVolume(argv, scriptName, env, streams);
  } catch (error) {
    // qubesd-query dies on an unreachable socket; the shell script exits with it.
    streams.stderr.write(
      `${path.basename(scriptName)}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
}

async function importVolume(
  argv: readonly string[],
  scriptName: string,
  env: NodeJS.ProcessEnv,
  streams: ImportStreams,
): Promise<number> {
  const base = path.basename(scriptName).replace(/\.m?[jt]s$/, '');
  const requested = (env.QREXEC_SERVICE_FULL_NAME ?? '').split('+')[0];
  const service =
    base === 'admin.vm.volume.Import' && requested === 'admin.vm.volume.ImportWithSize' ? requested : base;
  if (service !== 'admin.vm.volume.Import' && service !== 'admin.vm.volume.ImportWithSize') {
    streams.stderr.write(`Invoked with unknown basename ${base}, cannot continue\n`);
    return 1;
  }
  const socket =
    env.TMPL_QUBESD_INTERNAL_SOCKET ??
    (env.TMPL_QUBESD_SOCKET
      ? defaultInternalSocketPath(env.TMPL_QUBESD_SOCKET)
      : '/var/run/qubesd.internal.sock');
  const source = env.QREXEC_REMOTE_DOMAIN ?? '';
  const target = env.QREXEC_REQUESTED_TARGET ?? '';
  const volume = argv[0] ?? '';
  const reader = new PullReader(streams.stdin);

  let sizePayload: Uint8Array = new Uint8Array(0);
  if (service === 'admin.vm.volume.ImportWithSize') {
    const line = await readSizeLine(reader);
    if (typeof line === 'string') {
      streams.stderr.write(`qubesd-query: error: ${line}\n`);
      return 2;
    }
    sizePayload = line;
  }
  const begin = await qubesdQuery(
    socket,
    `internal.vm.volume.ImportBegin+${volume} ${source} name ${target}`,
    sizePayload,
  );
  if (begin.length < 2 || begin[0] !== 0x30 || begin[1] !== 0) {
    streams.stdout.write(begin);
    return 1;
  }
  const answer = begin.subarray(2).toString('latin1');
  const space = answer.indexOf(' ');
  const size = Number(answer.slice(0, space));
  const file = answer.slice(space + 1);

  let error = '';
  let copied = 0;
  try {
    copied = await copySparse(reader, file, size);
  } catch {
    error = 'error copying data';
  }
  if (!error && copied !== size) error = `not enough data (copied ${copied} bytes, expected ${size} bytes)`;
  if (!error && (await reader.read(1)).length !== 0) error = `too much data (expected ${size} bytes)`;

  const status = error ? `fail\n${error}` : 'ok';
  const end = await qubesdQuery(
    socket,
    `internal.vm.volume.ImportEnd+${volume} ${source} name ${target}`,
    Buffer.from(status, 'latin1'),
  );
  streams.stdout.write(end);
  return 0;
}
