/**
 * Writes the events of `readSparseTar` to a file, seeking over holes so the result is as sparse
 * as the archive described it (what `tar -xSf` does). For tests and the simulator's volumes.
 */
import { open } from 'node:fs/promises';
import { TmplError } from '../../protocol/errors.ts';
import type { SparseMemberEvent, SparseTarEvent } from '../../protocol/sparse-tar.ts';

/** Creates (or truncates) `path`, writes the data regions and sets the real size. */
export async function writeSparseFile(
  events: AsyncIterable<SparseTarEvent>,
  path: string,
): Promise<SparseMemberEvent> {
  const file = await open(path, 'w', 0o644);
  try {
    let member: SparseMemberEvent | null = null;
    for await (const event of events) {
      if (event.type === 'member') {
        if (member !== null) throw new TmplError('sparse.event-order', 'second member event');
        member = event;
        continue;
      }
      if (member === null) throw new TmplError('sparse.event-order', 'data event before the member event');
      let written = 0;
      while (written < event.bytes.length) {
        const { bytesWritten } = await file.write(
          event.bytes,
          written,
          event.bytes.length - written,
          event.offset + written,
        );
        written += bytesWritten;
      }
    }
    if (member === null) throw new TmplError('sparse.event-order', 'no member event');
    // Sets the apparent size; a trailing hole stays unallocated.
    await file.truncate(member.realSize);
    return member;
  } finally {
    await file.close();
  }
}
