/**
 * The orchestrator's side of a fetch or unpack: it reads the worker's frames, trusts none of
 * them, and lets bytes through only as they verify.
 *
 * - HEAD: the signature header is parsed, the header signature checked with OUR keyring over the
 *   exact main-header bytes, and only then is the main header parsed; name and EVR must be what
 *   we asked for.
 * - METADATA: every field must agree with the verified header.
 * - Files: only the allowed ones, each in the header's file list with the same size, in order,
 *   its digest computed while it streams and compared with FILEDIGESTS at its end.
 * - root.img parts go, concatenated, through the strict sparse-tar reader into the import;
 *   the import's last chunk is held back until END arrived and every digest matched.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Logger } from 'pino';
import type { PublicKey } from 'openpgp';
import { decodeFrames, FrameSequence } from '../protocol/frames.ts';
import { decodeJsonFrame } from '../protocol/messages.ts';
import { packageInfo } from '../protocol/rpm-info.ts';
import type { PackageInfo, RpmFileEntry } from '../protocol/rpm-types.ts';
import { VerificationError } from '../protocol/errors.ts';
import { Channel } from './channel.ts';
import { OrchestratorError } from './errors.ts';
import { openImageStream, type ImageStream } from './image-stream.ts';
import { describeTemplate, PART_PATTERN } from './template-layout.ts';
import { verifyHead } from './verify-head.ts';
import { displayLine, quotedLine } from '../protocol/display-text.ts';
import { workerFailure } from './worker-io.ts';

/** Default: a stalled worker is given up after this long without a byte. */
export const WORKER_IDLE_TIMEOUT_MS = 120_000;

export interface ExpectedPackage {
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
}

export interface VerifiedHead {
  readonly info: PackageInfo;
  readonly templateName: string;
  /** The root.img parts the header lists, in order. */
  readonly rootParts: readonly RpmFileEntry[];
  /** Sum of the parts' sizes: an upper bound on the image data a pool must hold. */
  readonly rootPartsBytes: number;
  readonly signer: string | undefined;
  readonly headBytes: Uint8Array;
}

export interface ReceivedTemplate {
  readonly head: VerifiedHead;
  /** Verified small files by base name (template.conf and the appmenu lists present). */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export interface ReceiveOptions {
  readonly op: 'fetch' | 'unpack';
  readonly stream: AsyncIterable<Uint8Array>;
  readonly keys: readonly PublicKey[];
  readonly nogpgcheck: boolean;
  /** For fetch: the exact package asked for. For unpack: undefined (any template package). */
  readonly expected: ExpectedPackage | undefined;
  readonly repoid: string | null;
  readonly idleTimeoutMs?: number;
  readonly log: Logger;
  /**
   * Called once the head verified and before any file data is accepted: checks (pool room,
   * rollback) and creates what the import needs; returns the consumer of the image stream.
   */
  prepare(head: VerifiedHead): Promise<(image: ImageStream) => Promise<void>>;
  /**
   * Called once every file verified and END arrived, before the image's last chunk is released
   * to the import: a throw here aborts the import, so Qubes keeps the old volume. Everything that
   * could fail after the commit (template.conf, appmenu lists) is parsed here.
   */
  validate?(head: VerifiedHead, files: ReadonlyMap<string, Uint8Array>): Promise<void> | void;
  onProgress?(stage: string, done: number, total: number | undefined): void;
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(e: unknown): void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Ends the iteration with 'worker.timeout' when no chunk arrives for `ms`. */
async function* withIdleTimeout(source: AsyncIterable<Uint8Array>, ms: number): AsyncGenerator<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new OrchestratorError('worker.timeout', `the worker sent nothing for ${ms / 1000} s`)),
        ms,
      );
    });
    try {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) return;
      yield next.value;
    } finally {
      clearTimeout(timer);
    }
  }
}

function protocolError(message: string): OrchestratorError {
  return new OrchestratorError('worker.protocol', message);
}

function evrOf(p: { epoch: number | null; version: string; release: string }): string {
  return `${p.epoch ?? 0}:${p.version}-${p.release}`;
}

export async function receiveTemplate(options: ReceiveOptions): Promise<ReceivedTemplate> {
  const { log } = options;
  const commit = deferred();
  const parts = new Channel(16);
  let importing: Promise<void> | undefined;
  let importFailure: unknown;

  const sequence = new FrameSequence(options.op);
  const frames = decodeFrames(
    withIdleTimeout(options.stream, options.idleTimeoutMs ?? WORKER_IDLE_TIMEOUT_MS),
    {
      sequence,
    },
  );

  let verified: VerifiedHead | undefined;
  let allowed: ReadonlyMap<string, RpmFileEntry> = new Map();
  let consume: ((image: ImageStream) => Promise<void>) | undefined;
  let announced: Map<string, number> | undefined;
  const received = new Set<string>();
  const small = new Map<string, Uint8Array>();
  let current:
    | {
        path: string;
        base: string;
        entry: RpmFileEntry;
        hash: Hash;
        bytes: number;
        chunks: Uint8Array[] | undefined;
        part: boolean;
      }
    | undefined;
  let nextPart = 0;
  let fileBytes = 0;
  /** root.img part bytes received: the progress of the image against rootPartsBytes. */
  let partBytes = 0;

  try {
    for await (const frame of frames) {
      if (importFailure !== undefined) throw importFailure as Error;
      switch (frame.type) {
        case 'HELLO':
          decodeJsonFrame(frame, 'HELLO');
          break;
        case 'PROGRESS': {
          const p = decodeJsonFrame(frame, 'PROGRESS');
          options.onProgress?.(p.stage, p.done, p.total);
          break;
        }
        case 'ERROR': {
          throw workerFailure(frame);
        }
        case 'HEAD': {
          const { head, signer } = await verifyHead(frame.payload, options.keys, {
            nogpgcheck: options.nogpgcheck,
          });
          const info = packageInfo(head.header);
          const exp = options.expected;
          if (exp && (info.name !== exp.name || evrOf(info) !== evrOf(exp))) {
            throw new VerificationError(
              'package.unexpected',
              `the worker sent ${quotedLine(`${info.name}-${evrOf(info)}`)}, not the requested ${exp.name}-${evrOf(exp)}`,
            );
          }
          const described = describeTemplate(info);
          allowed = described.allowed;
          verified = {
            info,
            templateName: described.templateName,
            rootParts: described.rootParts,
            rootPartsBytes: described.rootPartsBytes,
            signer,
            headBytes: head.headBytes,
          };
          log.info({ package: info.name, evr: displayLine(evrOf(info)), signer }, 'package header verified');
          consume = await options.prepare(verified);
          break;
        }
        case 'METADATA': {
          const m = decodeJsonFrame(frame, 'METADATA');
          const info = verified!.info;
          if (
            m.package.name !== info.name ||
            m.package.epoch !== (info.epoch ?? 0) ||
            m.package.version !== info.version ||
            m.package.release !== info.release ||
            m.package.arch !== info.arch
          ) {
            throw protocolError('METADATA names another package than the verified header');
          }
          if (m.repoid !== options.repoid)
            throw protocolError(`METADATA repoid ${String(m.repoid)} is not ${String(options.repoid)}`);
          announced = new Map();
          for (const f of m.files) {
            const entry = allowed.get(f.path);
            if (!entry)
              throw protocolError(
                `METADATA announces ${quotedLine(f.path)}, which is not an allowed file of the header`,
              );
            if (entry.size !== f.size)
              throw protocolError(`METADATA size of ${quotedLine(f.path)} disagrees with the header`);
            announced.set(f.path, f.size);
          }
          for (const part of verified!.rootParts) {
            if (!announced.has(part.path)) throw protocolError(`METADATA does not announce ${part.path}`);
          }
          break;
        }
        case 'FILE_BEGIN': {
          const f = decodeJsonFrame(frame, 'FILE_BEGIN');
          const entry = allowed.get(f.path);
          if (!entry || !announced?.has(f.path))
            throw protocolError(`file ${quotedLine(f.path)} is not an announced allowed file`);
          if (received.has(f.path)) throw protocolError(`file ${quotedLine(f.path)} sent twice`);
          if (f.size !== entry.size)
            throw protocolError(`size of ${quotedLine(f.path)} disagrees with the header`);
          const base = f.path.slice(f.path.lastIndexOf('/') + 1);
          const part = PART_PATTERN.test(base);
          if (part) {
            if (verified!.rootParts[nextPart]?.path !== f.path)
              throw protocolError(`root.img part ${base} out of order`);
            nextPart++;
            if (!importing) {
              const start = consume!;
              importing = (async () => {
                const image = await openImageStream(parts, commit.promise);
                await start(image);
              })();
              importing.catch((error: unknown) => {
                importFailure = error;
                parts.fail(error);
              });
            }
          }
          const algo = verified!.info.fileDigestAlgo;
          current = {
            path: f.path,
            base,
            entry,
            hash: createHash(algo),
            bytes: 0,
            chunks: part ? undefined : [],
            part,
          };
          break;
        }
        case 'FILE_DATA': {
          const c = current!;
          c.bytes += frame.payload.length;
          fileBytes += frame.payload.length;
          if (c.bytes > c.entry.size)
            throw protocolError(`more data than the ${c.entry.size} bytes of ${c.path}`);
          c.hash.update(frame.payload);
          if (c.part) {
            partBytes += frame.payload.length;
            await parts.push(frame.payload);
            options.onProgress?.('verify', partBytes, verified!.rootPartsBytes);
          } else {
            c.chunks!.push(frame.payload);
          }
          break;
        }
        case 'FILE_END': {
          const c = current!;
          const end = decodeJsonFrame(frame, 'FILE_END');
          if (end.path !== c.path) throw protocolError('FILE_END names another file');
          if (c.bytes !== c.entry.size)
            throw protocolError(`${c.path}: ${c.bytes} bytes, the header says ${c.entry.size}`);
          const digest = c.hash.digest('hex');
          if (digest !== c.entry.digest) {
            throw new VerificationError(
              'digest.file-mismatch',
              `${c.path}: digest does not match the signed header`,
            );
          }
          received.add(c.path);
          if (c.chunks) small.set(c.base, Buffer.concat(c.chunks));
          current = undefined;
          break;
        }
        case 'END': {
          const end = decodeJsonFrame(frame, 'END');
          for (const path of announced?.keys() ?? []) {
            if (!received.has(path)) throw protocolError(`announced file ${path} was never sent`);
          }
          if (end.files !== received.size || end.bytes !== fileBytes)
            throw protocolError('END totals disagree with what was sent');
          break;
        }
        default:
          throw protocolError(`unexpected ${frame.type} frame`);
      }
    }
    if (!verified || !importing) throw protocolError('the worker ended without sending the image');
    await options.validate?.(verified, small);
    parts.end();
    commit.resolve();
    await importing;
    return { head: verified, files: small };
  } catch (error) {
    commit.reject(error);
    parts.fail(error);
    if (importing) await importing.catch(() => {});
    throw error;
  }
}
