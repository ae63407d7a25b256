/**
 * From the verified root.img parts to the bytes admin.vm.volume.ImportWithSize takes.
 *
 * Qubes' import is not sparse on the wire: holes are sent as zeros (from one shared zero buffer,
 * never allocated per hole). The last chunk of the image is held back until `commit` resolves,
 * that is, until every part's digest matched the signed header and the worker's stream ended
 * cleanly; if `commit` rejects, the stream throws instead and Qubes discards the import. This
 * holds for every size because an empty image (nothing to hold back) is refused.
 */
import { readSparseTar, type SparseMemberEvent } from '../../protocol/sparse-tar.ts';
import { quotedLine } from '../../protocol/display-text.ts';
import { layoutError, OrchestratorError } from '../errors.ts';

const ZERO_CHUNK = new Uint8Array(1024 * 1024);

export interface ImageStream {
  readonly member: SparseMemberEvent;
  /** Exactly member.realSize bytes; ends only after `commit` resolved. */
  readonly data: AsyncIterable<Uint8Array>;
}

function* zeros(length: number): Generator<Uint8Array> {
  let left = length;
  while (left > 0) {
    const n = Math.min(left, ZERO_CHUNK.length);
    yield ZERO_CHUNK.subarray(0, n);
    left -= n;
  }
}

/**
 * Refuses a member name no builder writes: the builder archives `.../root.img` and GNU tar
 * strips a leading '/' (QUBES.md, "Template RPM layout"). The name is never used as a path
 * here, but a package carrying `../../etc/x` or `/etc/x` was made to be unpacked somewhere by
 * a tar that follows it, and is refused rather than quietly imported.
 */
export function checkImageMemberName(name: string): void {
  const shown = quotedLine(name);
  if (name.startsWith('/'))
    throw layoutError('template.image-name', `root image member ${shown} is an absolute path`);
  if (name.split('/').includes('..'))
    throw layoutError('template.image-name', `root image member ${shown} contains '..'`);
  if (!name.endsWith('root.img'))
    throw layoutError('template.image-name', `root image member ${shown} does not end in root.img`);
}

/** Reads the tar member header from `tar` (the concatenated parts) and returns the image stream. */
export async function openImageStream(
  tar: AsyncIterable<Uint8Array>,
  commit: Promise<void>,
): Promise<ImageStream> {
  const events = readSparseTar(tar);
  const first = await events.next();
  if (first.done || first.value.type !== 'member') {
    throw new OrchestratorError('import.failed', 'root image archive has no member');
  }
  const member = first.value;
  checkImageMemberName(member.name);
  // Qubes commits an import once it has `size` bytes: with nothing to hold back, an empty image
  // would be committed whatever happens after it, so it is refused before the import starts.
  if (member.realSize === 0) throw new OrchestratorError('image.empty', 'the root image is empty');

  async function* dense(): AsyncGenerator<Uint8Array> {
    let position = 0;
    for await (const event of events) {
      if (event.type !== 'data') throw new OrchestratorError('import.failed', 'unexpected second tar member');
      if (event.offset < position) throw new OrchestratorError('import.failed', 'image data out of order');
      yield* zeros(event.offset - position);
      yield event.bytes;
      position = event.offset + event.bytes.length;
    }
    yield* zeros(member.realSize - position);
  }

  async function* heldBack(): AsyncGenerator<Uint8Array> {
    let pending: Uint8Array | undefined;
    for await (const chunk of dense()) {
      if (chunk.length === 0) continue;
      if (pending) yield pending;
      pending = chunk;
    }
    await commit;
    if (pending) yield pending;
  }

  return { member, data: heldBack() };
}
