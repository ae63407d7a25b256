/**
 * `download`: the package itself, to a directory, verified by the orchestrator without
 * decompressing anything: the head's signature with our keyring, then the compressed payload's
 * digest (PAYLOADDIGEST, signed) while it streams. A partial file (NAME.rpm.part) from an
 * interrupted run is continued where it stopped: its head must be the one the worker sends again,
 * and its payload bytes are hashed before new ones are appended.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { PublicKey } from 'openpgp';
import { VerificationError } from '../../protocol/errors.ts';
import { decodeFrames, FrameSequence } from '../../protocol/frames.ts';
import type { RepoConfig } from '../../protocol/messages.ts';
import type { DigestAlgorithm, PackageInfo } from '../../protocol/rpm-types.ts';
import { packageInfo } from '../../protocol/rpm-info.ts';
import { ByteReader } from '../../protocol/byte-reader.ts';
import { readPackageHead } from '../../protocol/rpm-package.ts';
import { quotedLine } from '../../protocol/display-text.ts';
import type { App } from '../cli/context.ts';
import { OrchestratorError } from '../errors.ts';
import type { ExpectedPackage } from '../verify/receive-template.ts';
import { verifyHead } from '../verify/package-head.ts';
import { startWorker, type WorkerSession } from '../worker/session.ts';
import { workerFailure } from '../worker/request.ts';

export interface DownloadTarget extends ExpectedPackage {
  readonly repoid: string;
  readonly templateName: string;
  readonly downloadsize: number;
}

/** qvm-template's file name: qubes-template-NAME-E:V-R.rpm. */
export function downloadFileName(t: DownloadTarget): string {
  return `${t.name}-${t.epoch}:${t.version}-${t.release}.rpm`;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

export async function downloadPackage(
  app: App,
  repos: readonly RepoConfig[],
  keys: readonly PublicKey[],
  target: DownloadTarget,
  options: { dir: string; nogpgcheck: boolean; session?: WorkerSession | undefined },
): Promise<{ path: string; resumedFrom: number; bytes: number }> {
  const final = path.join(options.dir, downloadFileName(target));
  const partial = `${final}.part`;
  const existing = await sizeOf(partial);
  // The worker that listed the repositories, when the caller kept it (one disposable for both
  // requests, protocol/request-sequence.ts); this function owns it from here and closes it.
  const session =
    options.session ??
    (await startWorker({
      env: app.env,
      admin: app.admin,
      placement: app.placement,
      log: app.log,
      signal: app.signal,
    }));
  let out: ReturnType<typeof createWriteStream> | undefined;
  let writeError: Error | undefined;
  const onWriteError = (error: Error): void => {
    writeError ??= error;
  };
  try {
    const headSession = await askHead(app, session, repos, target, partial, existing);
    const { head, signer } = await verifyHead(headSession.headBytes, keys, {
      nogpgcheck: options.nogpgcheck,
    });
    const digest = expectedPayloadDigest(packageInfo(head.header), target);
    const hash = createHash(digest.algorithm);
    let resumedFrom = 0;
    if (headSession.resumeFrom > 0) {
      await rehashPartial(partial, head.headBytes, hash);
      resumedFrom = headSession.resumeFrom;
      out = await openPartial(partial, 'a', onWriteError);
    } else {
      await mkdir(options.dir, { recursive: true });
      out = await openPartial(partial, 'w', onWriteError);
      if (!out.write(head.headBytes)) await once(out, 'drain');
    }
    const limit = Math.max(target.downloadsize, head.headBytes.length);
    const bytes = await appendPayload(out, headSession.payload, hash, {
      written: head.headBytes.length + resumedFrom,
      limit,
    });
    out.end();
    await once(out, 'close');
    out = undefined;
    if (writeError) {
      throw new OrchestratorError('download.write', `cannot write ${partial}: ${writeError.message}`, {
        cause: writeError,
      });
    }
    if (hash.digest('hex') !== digest.value) {
      await unlink(partial).catch(() => {});
      throw new VerificationError(
        'digest.payload-mismatch',
        `${target.name}: payload digest does not match the signed header`,
      );
    }
    await rename(partial, final);
    app.log.info({ file: final, signer }, 'downloaded and verified');
    return { path: final, resumedFrom, bytes };
  } finally {
    if (out) {
      out.end();
      await once(out, 'close').catch(() => {});
    }
    await session.close();
  }
}

/** The signed payload digest of the package the worker sent, which must be the one asked for. */
function expectedPayloadDigest(
  info: PackageInfo,
  target: DownloadTarget,
): { readonly algorithm: DigestAlgorithm; readonly value: string } {
  if (
    info.name !== target.name ||
    `${info.epoch ?? 0}:${info.version}-${info.release}` !==
      `${target.epoch}:${target.version}-${target.release}`
  ) {
    throw new VerificationError(
      'package.unexpected',
      `the worker sent ${quotedLine(info.name)}, not ${target.name}`,
    );
  }
  if (!info.payloadDigest || !info.payloadDigestAlgo) {
    throw new VerificationError('digest.payload-missing', 'the package header has no payload digest');
  }
  return { algorithm: info.payloadDigestAlgo, value: info.payloadDigest };
}

/** Re-hashes the payload a partial file already holds; its head must be byte-identical to the verified one. */
async function rehashPartial(partial: string, headBytes: Uint8Array, hash: Hash): Promise<void> {
  let position = 0;
  for await (const chunk of createReadStream(partial)) {
    const bytes = chunk as Buffer;
    const headPart = Math.max(0, Math.min(bytes.length, headBytes.length - position));
    if (
      headPart > 0 &&
      !Buffer.from(headBytes.subarray(position, position + headPart)).equals(bytes.subarray(0, headPart))
    ) {
      throw new VerificationError(
        'download.partial-mismatch',
        `${partial} does not start with this package's head`,
      );
    }
    hash.update(bytes.subarray(headPart));
    position += bytes.length;
  }
}

/**
 * Hashes and appends the worker's payload, honouring backpressure; refuses more bytes than the
 * repository announced. Returns the file's size.
 */
async function appendPayload(
  out: ReturnType<typeof createWriteStream>,
  payload: AsyncIterable<Uint8Array>,
  hash: Hash,
  size: { readonly written: number; readonly limit: number },
): Promise<number> {
  let bytes = size.written;
  for await (const chunk of payload) {
    bytes += chunk.length;
    if (bytes > size.limit)
      throw new OrchestratorError(
        'worker.protocol',
        `the worker sent more than the ${size.limit} bytes the repository announced`,
      );
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  return bytes;
}

/**
 * Opens the partial file for writing. A stream error (ENOENT, ENOSPC) is handed to `onError`, to
 * be raised by the caller, instead of crashing tmpl as an unhandled 'error' event.
 */
async function openPartial(
  file: string,
  flags: 'a' | 'w',
  onError: (error: Error) => void,
): Promise<ReturnType<typeof createWriteStream>> {
  const stream = createWriteStream(file, { flags });
  stream.on('error', onError);
  try {
    await once(stream, 'open');
  } catch (cause) {
    throw new OrchestratorError('download.write', `cannot write ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return stream;
}

interface HeadAndPayload {
  readonly headBytes: Uint8Array;
  readonly resumeFrom: number;
  readonly payload: AsyncIterable<Uint8Array>;
}

/**
 * Sends the download request and returns the HEAD and an iterator over the PAYLOAD_DATA. With a
 * partial file, the resume offset is the partial size minus the head's size, which needs the
 * head: the worker reports the head first, and a partial file shorter than its head restarts.
 */
async function askHead(
  app: App,
  session: WorkerSession,
  repos: readonly RepoConfig[],
  target: DownloadTarget,
  partialPath: string,
  existing: number,
): Promise<HeadAndPayload> {
  const resumeFrom = existing > 0 ? await payloadBytesIn(partialPath, existing) : 0;
  const { reply, sent } = session.exchange({
    protocol: 1,
    op: 'download',
    releasever: app.releasever,
    repos: [...repos],
    package: {
      repoid: target.repoid,
      name: target.name,
      epoch: target.epoch,
      version: target.version,
      release: target.release,
    },
    ...(resumeFrom > 0 ? { resumeFrom } : {}),
  });
  // A request the worker never read shows as its missing reply: the frames tell what went wrong.
  sent.catch(() => {});
  const frames = decodeFrames(reply, { sequence: new FrameSequence('download') })[Symbol.asyncIterator]();
  let headBytes: Uint8Array | undefined;
  for (;;) {
    const next = await frames.next();
    if (next.done) throw new OrchestratorError('worker.protocol', 'the worker sent no package head');
    const frame = next.value;
    if (frame.type === 'ERROR') {
      throw workerFailure(frame);
    }
    if (frame.type === 'HEAD') {
      headBytes = frame.payload;
      break;
    }
  }
  async function* payload(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = await frames.next();
      if (next.done) return;
      const frame = next.value;
      if (frame.type === 'PAYLOAD_DATA') yield frame.payload;
      else if (frame.type === 'ERROR') {
        throw workerFailure(frame);
      }
    }
  }
  return { headBytes, resumeFrom, payload: payload() };
}

/**
 * How many payload bytes a partial file holds: its size less its head, or 0 (start over) when
 * its head does not parse. Only an offset is taken from it; the bytes are checked against the
 * verified head and re-hashed before anything is appended.
 */
async function payloadBytesIn(file: string, size: number): Promise<number> {
  try {
    const head = await readPackageHead(new ByteReader(createReadStream(file) as AsyncIterable<Uint8Array>));
    return size > head.payloadOffset ? size - head.payloadOffset : 0;
  } catch {
    return 0;
  }
}
