/**
 * The orchestrator's state machine over a worker's fetch or unpack stream: one state per phase
 * of the protocol, every transition on a frame in `#transition` (and the one on the outcome of
 * the head's signature check in `headVerified`). It trusts nothing the worker says and checks
 * every frame's content against the verified header; FrameSequence (protocol/frames.ts) checks the
 * order of frame types as they arrive, this machine refuses anything its state does not expect
 * all the same.
 *
 * Pure: no I/O, no timers. It takes frames and answers what the caller must do (verify the head,
 * prepare the import, open the image, push image bytes); the caller (receiveTemplate) connects it
 * to the worker's stream, the watchdog, the image channel and the import. The head's signature
 * check is the caller's (it is asynchronous); the machine waits for its outcome in
 * 'verifying-head'.
 *
 *   awaiting-hello  HELLO     -> awaiting-head
 *   awaiting-head   HEAD      -> verifying-head   (caller verifies, then headVerified())
 *   verifying-head  verified  -> awaiting-metadata
 *   awaiting-metadata METADATA -> between-files   (caller prepares the import)
 *   between-files   FILE_BEGIN -> in-file (part | small);  END -> ended
 *   in-file         FILE_DATA -> in-file;  FILE_END -> between-files
 *   any             ERROR     -> failed (the worker's failure);  PROGRESS -> same state
 *
 * The rules on content:
 * - HEAD: name and EVR must be the ones asked for; the layout (describeTemplate) decides which
 *   files are accepted; an image archive too small to hold an image is refused here.
 * - METADATA names the verified package and announces exactly the accepted files (every one,
 *   template.conf and the appmenu lists included, even when empty), each with the header's size.
 * - Each accepted file comes once, root.img parts in order, with exactly the header's size in
 *   non-empty FILE_DATA frames, and its digest must match FILEDIGESTS at FILE_END.
 * - END: every file arrived, and the totals agree.
 * Any refusal leaves the machine in 'failed'.
 *
 * Over 300 lines on purpose: the states, every transition and the content rules each one checks
 * stay in one class, so that a reader can check the machine against the table above in one place;
 * split across files, a transition's rule would be read away from its state.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Frame, FrameType } from '../../protocol/frames.ts';
import { ParseError, VerificationError } from '../../protocol/errors.ts';
import { decodeJsonFrame } from '../../protocol/messages.ts';
import { packageInfo } from '../../protocol/rpm-info.ts';
import type { PackageInfo, RpmFileEntry } from '../../protocol/rpm-types.ts';
import { TAR_BLOCK_SIZE } from '../../protocol/tar-header.ts';
import { quotedLine } from '../../protocol/display-text.ts';
import { OrchestratorError } from '../errors.ts';
import { describeTemplate, PART_PATTERN } from './template-layout.ts';
import type { VerifiedPackageHead } from './package-head.ts';
import { workerFailure } from '../worker/request.ts';

/**
 * The smallest root image archive that can hold an image: one member header and the two
 * end-of-archive blocks. Parts that add up to less hold no image at all.
 */
export const MIN_IMAGE_ARCHIVE_BYTES = 3 * TAR_BLOCK_SIZE;
/**
 * PROGRESS frames accepted between two frames that move the transfer forward. The worker sends
 * at most two a second; this many would take it over an hour of no progress, long past the idle
 * timeout's default, while a flood of them is cut short after a few milliseconds of work.
 */
export const MAX_PROGRESS_FRAMES_WITHOUT_ADVANCE = 10_000;

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
  /** Verified small files by base name: every one the header lists (template.conf, appmenu lists). */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export interface FrameReceiverOptions {
  readonly op: 'fetch' | 'unpack';
  /** For fetch: the exact package asked for. For unpack: undefined (any template package). */
  readonly expected: ExpectedPackage | undefined;
  readonly repoid: string | null;
}

/** The verified header and what it allows. */
interface HeadContext {
  readonly head: VerifiedHead;
  /** Every file the orchestrator accepts, by full path: all of them must come. */
  readonly allowed: ReadonlyMap<string, RpmFileEntry>;
}

/** The transfer after METADATA. */
interface Transfer extends HeadContext {
  readonly received: Set<string>;
  readonly small: Map<string, Uint8Array>;
  /** Index in head.rootParts of the next part to come. */
  nextPart: number;
  /** FILE_DATA bytes of every file. */
  fileBytes: number;
  /** FILE_DATA bytes of the root.img parts. */
  partBytes: number;
}

interface OpenFile {
  readonly path: string;
  readonly base: string;
  readonly entry: RpmFileEntry;
  readonly hash: Hash;
  bytes: number;
}

/** A small file is kept whole (it is bounded by SMALL_FILES) for the validate hook. */
interface OpenSmallFile extends OpenFile {
  readonly chunks: Uint8Array[];
}

export type ReceiverState =
  | { readonly phase: 'awaiting-hello' }
  | { readonly phase: 'awaiting-head' }
  | { readonly phase: 'verifying-head' }
  | { readonly phase: 'awaiting-metadata'; readonly context: HeadContext }
  | { readonly phase: 'between-files'; readonly transfer: Transfer }
  | { readonly phase: 'in-file'; readonly kind: 'part'; readonly transfer: Transfer; readonly file: OpenFile }
  | {
      readonly phase: 'in-file';
      readonly kind: 'small';
      readonly transfer: Transfer;
      readonly file: OpenSmallFile;
    }
  | { readonly phase: 'ended'; readonly result: ReceivedTemplate }
  | { readonly phase: 'failed' };

export type ReceiverPhase = ReceiverState['phase'];

/** What the caller does for a frame. */
export type ReceiverAction =
  | { readonly kind: 'none' }
  /** Relay the worker's progress report (untrusted numbers, for display only). */
  | {
      readonly kind: 'report';
      readonly stage: string;
      readonly done: number;
      readonly total: number | undefined;
    }
  /** Verify these head bytes with our keyring, then call headVerified(). */
  | { readonly kind: 'verify-head'; readonly bytes: Uint8Array }
  /** The header and METADATA verified: check and create what the import needs. */
  | { readonly kind: 'prepare'; readonly head: VerifiedHead }
  /** The first root.img part began: open the image stream and start the import. */
  | { readonly kind: 'open-image' }
  /** Root image archive bytes, in order (verified only at their part's FILE_END). */
  | { readonly kind: 'image-data'; readonly bytes: Uint8Array; readonly done: number; readonly total: number }
  /** END arrived and every file verified. */
  | { readonly kind: 'ended'; readonly result: ReceivedTemplate };

export interface ReceiverStep {
  readonly action: ReceiverAction;
  /**
   * The frame moved the verified transfer forward: every accepted frame but PROGRESS (FILE_DATA
   * always brings bytes: empty ones are refused). What resets the idle timer.
   */
  readonly advanced: boolean;
  /** File data bytes the frame brought. */
  readonly dataBytes: number;
}

const NOTHING: ReceiverAction = { kind: 'none' };

function protocolError(message: string): OrchestratorError {
  return new OrchestratorError('worker.protocol', message);
}

function evrOf(p: { epoch: number | null; version: string; release: string }): string {
  return `${p.epoch ?? 0}:${p.version}-${p.release}`;
}

function step(action: ReceiverAction, dataBytes = 0): ReceiverStep {
  return { action, advanced: true, dataBytes };
}

export class FrameReceiver {
  readonly #options: FrameReceiverOptions;
  #state: ReceiverState = { phase: 'awaiting-hello' };
  #progressFrames = 0;

  constructor(options: FrameReceiverOptions) {
    this.#options = options;
  }

  get phase(): ReceiverPhase {
    return this.#state.phase;
  }

  /** Takes the next frame (untrusted: from the worker). Throws on any refusal. */
  accept(frame: Frame): ReceiverStep {
    try {
      const result = this.#transition(this.#state, frame);
      this.#progressFrames = result.advanced ? 0 : this.#progressFrames + 1;
      if (this.#progressFrames > MAX_PROGRESS_FRAMES_WITHOUT_ADVANCE) {
        throw protocolError(
          `more than ${MAX_PROGRESS_FRAMES_WITHOUT_ADVANCE} PROGRESS frames without progress`,
        );
      }
      return result;
    } catch (error) {
      this.#state = { phase: 'failed' };
      throw error;
    }
  }

  /**
   * The head sent in HEAD verified with our keyring: check it names what was asked for and
   * describes a template with an image. Returns the verified head and the signed bytes of every
   * accepted file (what the deadline is derived from).
   */
  headVerified(verified: VerifiedPackageHead): { head: VerifiedHead; signedBytes: number } {
    try {
      if (this.#state.phase !== 'verifying-head') {
        throw protocolError(`a verified head in state ${this.#state.phase}`);
      }
      const info = packageInfo(verified.head.header);
      const expected = this.#options.expected;
      if (expected && (info.name !== expected.name || evrOf(info) !== evrOf(expected))) {
        throw new VerificationError(
          'package.unexpected',
          `the worker sent ${quotedLine(`${info.name}-${evrOf(info)}`)}, ` +
            `not the requested ${expected.name}-${evrOf(expected)}`,
        );
      }
      const layout = describeTemplate(info);
      if (layout.rootPartsBytes < MIN_IMAGE_ARCHIVE_BYTES) {
        throw new OrchestratorError(
          'image.empty',
          `the signed root.img parts hold ${layout.rootPartsBytes} bytes: no image`,
        );
      }
      const head: VerifiedHead = {
        info,
        templateName: layout.templateName,
        rootParts: layout.rootParts,
        rootPartsBytes: layout.rootPartsBytes,
        signer: verified.signer,
        headBytes: verified.head.headBytes,
      };
      this.#state = { phase: 'awaiting-metadata', context: { head, allowed: layout.allowed } };
      let signedBytes = 0;
      for (const entry of layout.allowed.values()) signedBytes += entry.size;
      return { head, signedBytes };
    } catch (error) {
      this.#state = { phase: 'failed' };
      throw error;
    }
  }

  /** The stream ended: the received template, or 'frame.truncated' when END never came. */
  finish(): ReceivedTemplate {
    const state = this.#state;
    if (state.phase !== 'ended') {
      this.#state = { phase: 'failed' };
      throw new ParseError('frame.truncated', `the worker's stream ended in state ${state.phase}`, 0);
    }
    return state.result;
  }

  #transition(state: ReceiverState, frame: Frame): ReceiverStep {
    if (state.phase === 'failed') throw protocolError(`${frame.type} frame after the stream was refused`);
    if (state.phase === 'ended') throw new ParseError('frame.after-end', `${frame.type} frame after END`, 0);
    if (frame.type === 'ERROR') throw workerFailure(frame);
    if (frame.type === 'PROGRESS' && state.phase !== 'awaiting-hello' && state.phase !== 'verifying-head') {
      const p = decodeJsonFrame(frame, 'PROGRESS');
      return {
        action: { kind: 'report', stage: p.stage, done: p.done, total: p.total },
        advanced: false,
        dataBytes: 0,
      };
    }
    switch (state.phase) {
      case 'awaiting-hello':
        expectType(frame, 'HELLO', state.phase);
        decodeJsonFrame(frame, 'HELLO');
        this.#state = { phase: 'awaiting-head' };
        return step(NOTHING);
      case 'awaiting-head':
        expectType(frame, 'HEAD', state.phase);
        this.#state = { phase: 'verifying-head' };
        return step({ kind: 'verify-head', bytes: frame.payload });
      case 'verifying-head':
        throw unexpected(frame.type, state.phase);
      case 'awaiting-metadata': {
        expectType(frame, 'METADATA', state.phase);
        const transfer = this.#metadata(state.context, frame);
        this.#state = { phase: 'between-files', transfer };
        return step({ kind: 'prepare', head: transfer.head });
      }
      case 'between-files':
        if (frame.type === 'FILE_BEGIN') return this.#beginFile(state.transfer, frame);
        if (frame.type === 'END') return this.#end(state.transfer, frame);
        throw unexpected(frame.type, state.phase);
      case 'in-file':
        if (frame.type === 'FILE_DATA') return this.#fileData(state, frame);
        if (frame.type === 'FILE_END') return this.#endFile(state, frame);
        throw unexpected(frame.type, state.phase);
    }
  }

  #metadata(context: HeadContext, frame: Frame): Transfer {
    const m = decodeJsonFrame(frame, 'METADATA');
    const info = context.head.info;
    if (
      m.package.name !== info.name ||
      m.package.epoch !== (info.epoch ?? 0) ||
      m.package.version !== info.version ||
      m.package.release !== info.release ||
      m.package.arch !== info.arch
    ) {
      throw protocolError('METADATA names another package than the verified header');
    }
    if (m.repoid !== this.#options.repoid) {
      throw protocolError(
        `METADATA repoid ${quotedLine(String(m.repoid))} is not ${String(this.#options.repoid)}`,
      );
    }
    const announced = new Set<string>(); // the schema refuses a path announced twice
    for (const f of m.files) {
      const entry = context.allowed.get(f.path);
      if (!entry)
        throw protocolError(
          `METADATA announces ${quotedLine(f.path)}, which is not an allowed file of the header`,
        );
      if (entry.size !== f.size)
        throw protocolError(`METADATA size of ${quotedLine(f.path)} disagrees with the header`);
      announced.add(f.path);
    }
    for (const path of context.allowed.keys()) {
      if (!announced.has(path))
        throw protocolError(`METADATA does not announce ${path}, which the signed header lists`);
    }
    return { ...context, received: new Set(), small: new Map(), nextPart: 0, fileBytes: 0, partBytes: 0 };
  }

  #beginFile(transfer: Transfer, frame: Frame): ReceiverStep {
    const f = decodeJsonFrame(frame, 'FILE_BEGIN');
    const entry = transfer.allowed.get(f.path);
    if (!entry) throw protocolError(`file ${quotedLine(f.path)} is not an announced allowed file`);
    if (transfer.received.has(f.path)) throw protocolError(`file ${quotedLine(f.path)} sent twice`);
    if (f.size !== entry.size) throw protocolError(`size of ${quotedLine(f.path)} disagrees with the header`);
    const base = f.path.slice(f.path.lastIndexOf('/') + 1);
    const hash = createHash(transfer.head.info.fileDigestAlgo);
    if (!PART_PATTERN.test(base)) {
      this.#state = {
        phase: 'in-file',
        kind: 'small',
        transfer,
        file: { path: f.path, base, entry, hash, bytes: 0, chunks: [] },
      };
      return step(NOTHING);
    }
    if (transfer.head.rootParts[transfer.nextPart]?.path !== f.path) {
      throw protocolError(`root.img part ${base} out of order`);
    }
    const first = transfer.nextPart === 0;
    transfer.nextPart++;
    this.#state = {
      phase: 'in-file',
      kind: 'part',
      transfer,
      file: { path: f.path, base, entry, hash, bytes: 0 },
    };
    return step(first ? { kind: 'open-image' } : NOTHING);
  }

  #fileData(state: Extract<ReceiverState, { phase: 'in-file' }>, frame: Frame): ReceiverStep {
    const { transfer, file } = state;
    const length = frame.payload.length;
    // An empty frame moves nothing: a flood of them would only burn the trusted side's CPU.
    if (length === 0) throw protocolError(`empty FILE_DATA frame in ${file.path}`);
    if (file.bytes + length > file.entry.size)
      throw protocolError(`more data than the ${file.entry.size} bytes of ${file.path}`);
    file.bytes += length;
    transfer.fileBytes += length;
    file.hash.update(frame.payload);
    if (state.kind === 'small') {
      state.file.chunks.push(frame.payload);
      return step(NOTHING, length);
    }
    transfer.partBytes += length;
    return step(
      {
        kind: 'image-data',
        bytes: frame.payload,
        done: transfer.partBytes,
        total: transfer.head.rootPartsBytes,
      },
      length,
    );
  }

  #endFile(state: Extract<ReceiverState, { phase: 'in-file' }>, frame: Frame): ReceiverStep {
    const { transfer, file } = state;
    const end = decodeJsonFrame(frame, 'FILE_END');
    if (end.path !== file.path) throw protocolError('FILE_END names another file');
    if (file.bytes !== file.entry.size)
      throw protocolError(`${file.path}: ${file.bytes} bytes, the header says ${file.entry.size}`);
    if (file.hash.digest('hex') !== file.entry.digest) {
      throw new VerificationError(
        'digest.file-mismatch',
        `${file.path}: digest does not match the signed header`,
      );
    }
    transfer.received.add(file.path);
    if (state.kind === 'small') transfer.small.set(file.base, Buffer.concat(state.file.chunks));
    this.#state = { phase: 'between-files', transfer };
    return step(NOTHING);
  }

  #end(transfer: Transfer, frame: Frame): ReceiverStep {
    const end = decodeJsonFrame(frame, 'END');
    for (const path of transfer.allowed.keys()) {
      if (!transfer.received.has(path)) throw protocolError(`announced file ${path} was never sent`);
    }
    if (end.files !== transfer.received.size || end.bytes !== transfer.fileBytes)
      throw protocolError('END totals disagree with what was sent');
    const result: ReceivedTemplate = { head: transfer.head, files: transfer.small };
    this.#state = { phase: 'ended', result };
    return step({ kind: 'ended', result });
  }
}

function unexpected(type: FrameType, phase: ReceiverPhase): ParseError {
  return new ParseError('frame.unexpected', `${type} frame while ${phase}`, 0);
}

function expectType(frame: Frame, type: FrameType, phase: ReceiverPhase): void {
  if (frame.type !== type) throw unexpected(frame.type, phase);
}
