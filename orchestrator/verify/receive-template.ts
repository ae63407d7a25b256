/**
 * The orchestrator's side of a fetch or unpack: it reads the worker's frames, trusts none of
 * them, and lets bytes through only as they verify. The rules are FrameReceiver's
 * (frame-receiver.ts, a pure state machine); the time limits are TransferWatchdog's
 * (transfer-watchdog.ts). This driver connects them to the worker's stream, the timers, the
 * image channel and the import:
 *
 * - HEAD is verified with OUR keyring over the exact main-header bytes (package-head.ts) before
 *   the machine looks at the header.
 * - Once METADATA agrees with the verified header, `prepare` creates what the import needs.
 * - root.img parts go, concatenated, through the strict sparse-tar reader into the import; the
 *   import's last chunk is held back (image-stream.ts) until END arrived, every digest matched
 *   and `validate` succeeded. An empty image, with nothing to hold back, is refused.
 */
import type { Logger } from 'pino';
import { displayLine } from '../../protocol/display-text.ts';
import type { PublicKey } from 'openpgp';
import { decodeFrames, FrameSequence } from '../../protocol/frames.ts';
import { Channel } from '../worker/chunk-queue.ts';
import { OrchestratorError } from '../errors.ts';
import {
  FrameReceiver,
  type ExpectedPackage,
  type ReceivedTemplate,
  type VerifiedHead,
} from './frame-receiver.ts';
import { openImageStream, type ImageStream } from './image-stream.ts';
import { TransferWatchdog, transferLimits, type TransferLimits } from './transfer-watchdog.ts';
import { verifyHead } from './package-head.ts';

export type { ExpectedPackage, ReceivedTemplate, VerifiedHead } from './frame-receiver.ts';
export { WORKER_IDLE_TIMEOUT_MS } from './transfer-watchdog.ts';

export interface ReceiveOptions {
  readonly op: 'fetch' | 'unpack';
  readonly stream: AsyncIterable<Uint8Array>;
  readonly keys: readonly PublicKey[];
  readonly nogpgcheck: boolean;
  /** For fetch: the exact package asked for. For unpack: undefined (any template package). */
  readonly expected: ExpectedPackage | undefined;
  readonly repoid: string | null;
  readonly idleTimeoutMs?: number;
  /** Time limits of the transfer (transfer-watchdog.ts); these win over idleTimeoutMs. */
  readonly limits?: Partial<TransferLimits>;
  readonly log: Logger;
  /**
   * Called once the head and METADATA verified and before any file data is accepted: checks
   * (pool room, rollback) and creates what the import needs; returns the consumer of the image
   * stream.
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

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let settle: { resolve(): void; reject(e: unknown): void } = { resolve() {}, reject() {} };
  const promise = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  promise.catch(() => {});
  return { promise, resolve: () => settle.resolve(), reject: (e) => settle.reject(e) };
}

/**
 * The watchdog's clock: milliseconds during which the worker holds the transfer, that is, all
 * but the time the orchestrator awaits its own work (the head's signature check, prepare, the
 * import taking the image bytes), which a slow disk must not charge to the worker.
 */
class TransferClock {
  #pausedAt: number | undefined;
  #pausedTotal = 0;

  now(): number {
    return (this.#pausedAt ?? performance.now()) - this.#pausedTotal;
  }

  async paused<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.#pausedAt = started;
    try {
      return await work();
    } finally {
      this.#pausedTotal += performance.now() - started;
      this.#pausedAt = undefined;
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new OrchestratorError('worker.protocol', String(error));
}

/**
 * The worker's stream under the watchdog: each read races a timer set for the watchdog's next
 * possible violation, and `abort` (the import failed). Buffers nothing.
 */
async function* watched(
  source: AsyncIterable<Uint8Array>,
  watchdog: TransferWatchdog,
  clock: TransferClock,
  abort: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    watchdog.check(clock.now());
    let timer: NodeJS.Timeout | undefined;
    let onAbort = (): void => {};
    const stopped = new Promise<never>((_, reject) => {
      const arm = (): void => {
        timer = setTimeout(
          () => {
            try {
              watchdog.check(clock.now());
              arm();
            } catch (error) {
              reject(asError(error));
            }
          },
          Math.max(1, Math.ceil(watchdog.nextCheckAt() - clock.now())),
        );
      };
      onAbort = () => reject(asError(abort.reason));
      if (abort.aborted) onAbort();
      else abort.addEventListener('abort', onAbort, { once: true });
      arm();
    });
    stopped.catch(() => {});
    try {
      const next = await Promise.race([iterator.next(), stopped]);
      if (next.done === true) return;
      yield next.value;
    } finally {
      clearTimeout(timer);
      abort.removeEventListener('abort', onAbort);
    }
  }
}

/** Verifies the head with our keyring and hands it to the receiver; returns the signed size. */
async function acceptHead(
  options: ReceiveOptions,
  receiver: FrameReceiver,
  bytes: Uint8Array,
): Promise<number> {
  const verified = await verifyHead(bytes, options.keys, { nogpgcheck: options.nogpgcheck });
  const { head, signedBytes } = receiver.headVerified(verified);
  options.log.info(
    {
      package: head.info.name,
      version: displayLine(head.info.version),
      release: displayLine(head.info.release),
      signer: head.signer,
    },
    'package header verified',
  );
  return signedBytes;
}

export async function receiveTemplate(options: ReceiveOptions): Promise<ReceivedTemplate> {
  const limits = transferLimits({
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...options.limits,
  });
  const clock = new TransferClock();
  const watchdog = new TransferWatchdog(limits, clock.now());
  const receiver = new FrameReceiver({ op: options.op, expected: options.expected, repoid: options.repoid });
  const commit = deferred();
  /** Aborted with the import's failure, to stop waiting for the worker at once. */
  const aborted = new AbortController();
  const parts = new Channel(16);
  let consume: ((image: ImageStream) => Promise<void>) | undefined;
  let importing: Promise<void> | undefined;
  let importFailure: { error: unknown } | undefined;

  const frames = decodeFrames(watched(options.stream, watchdog, clock, aborted.signal), {
    sequence: new FrameSequence(options.op),
  });

  try {
    for await (const frame of frames) {
      if (importFailure) throw importFailure.error;
      const step = receiver.accept(frame);
      if (step.advanced) watchdog.advanced(clock.now(), step.dataBytes);
      if (frame.type === 'FILE_BEGIN') watchdog.filesStarted(clock.now());
      const action = step.action;
      switch (action.kind) {
        case 'none':
          break;
        case 'report':
          options.onProgress?.(action.stage, action.done, action.total);
          break;
        case 'verify-head':
          watchdog.sized(await clock.paused(() => acceptHead(options, receiver, action.bytes)));
          break;
        case 'prepare':
          consume = await clock.paused(() => options.prepare(action.head));
          break;
        case 'open-image': {
          const start = consume;
          if (start === undefined)
            throw new OrchestratorError('worker.protocol', 'image data before METADATA');
          importing = (async () => {
            const image = await openImageStream(parts, commit.promise);
            await start(image);
          })();
          importing.catch((error: unknown) => {
            importFailure = { error };
            parts.fail(error);
            aborted.abort(error);
          });
          break;
        }
        case 'image-data':
          await clock.paused(() => parts.push(action.bytes));
          options.onProgress?.('verify', action.done, action.total);
          break;
        case 'ended':
          watchdog.finished();
          break;
      }
      watchdog.check(clock.now());
    }
    const received = receiver.finish();
    if (importing === undefined) throw new OrchestratorError('worker.protocol', 'the worker sent no image');
    await options.validate?.(received.head, received.files);
    parts.end();
    commit.resolve();
    await importing;
    return received;
  } catch (error) {
    commit.reject(error);
    parts.fail(error);
    if (importing) await importing.catch(() => {});
    throw error;
  }
}
