/**
 * ReplySplitter (orchestrator/worker/reply-split.ts): the worker's output cut into the replies
 * of a session at each END or ERROR, whatever the chunking, the last reply uncut (so its reader
 * still refuses bytes after END), and a reply read only in part ending the session's use.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrames, encodeFrame, FrameSequence } from '../../../protocol/frames.ts';
import { encodeMessageFrame } from '../../../protocol/messages.ts';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import { ReplySplitter } from '../../../orchestrator/worker/reply-split.ts';
import { chunked } from '../../helpers/byte-slices.ts';

/** ReplySplitter reads an async iterable, as the worker's stdout is. */
async function* asAsync(chunks: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield await Promise.resolve(chunk);
}

const hello = encodeMessageFrame('HELLO', { protocol: 1, worker: '0.1.0', requests: 2 });
const query = Buffer.concat([
  hello,
  encodeMessageFrame('PROGRESS', { stage: 'metadata', done: 1, total: 1 }),
  encodeMessageFrame('QUERY_RESULT', { packages: [], repomd: [] }),
  encodeMessageFrame('END', { files: 0, bytes: 0 }),
]);
const header = Buffer.concat([
  hello,
  encodeFrame('HEAD', new Uint8Array(300)),
  encodeMessageFrame('END', { files: 0, bytes: 0 }),
]);
const failed = Buffer.concat([
  hello,
  encodeMessageFrame('ERROR', { code: 'worker.not-found', message: 'no' }),
]);

async function collect(reply: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of reply) parts.push(part);
  return Buffer.concat(parts);
}

describe('ReplySplitter', () => {
  for (const size of [1, 7, 8, 9, 64, 1 << 20]) {
    it(`cuts a query reply from the next one in chunks of ${size} bytes`, async () => {
      const splitter = new ReplySplitter(asAsync(chunked(Buffer.concat([query, header]), size)));
      expect((await collect(splitter.reply(false))).equals(query)).toBe(true);
      expect((await collect(splitter.reply(true))).equals(header)).toBe(true);
    });
  }

  it('ends a reply at ERROR', async () => {
    const splitter = new ReplySplitter(asAsync(chunked(Buffer.concat([failed, header]), 5)));
    expect((await collect(splitter.reply(false))).equals(failed)).toBe(true);
  });

  it('leaves the last reply uncut: bytes after its END reach its reader, which refuses them', async () => {
    const extra = encodeMessageFrame('END', { files: 0, bytes: 0 });
    const splitter = new ReplySplitter(asAsync(chunked(Buffer.concat([query, header, extra]), 3)));
    await collect(splitter.reply(false));
    const last = splitter.reply(true);
    await expect(async () => {
      for await (const frame of decodeFrames(last, { sequence: new FrameSequence('header') })) void frame;
    }).rejects.toMatchObject({ code: 'frame.after-end' });
  });

  it('gives an empty reply once the output ended (its reader reports the truncation)', async () => {
    const splitter = new ReplySplitter(asAsync(chunked(query, 4)));
    await collect(splitter.reply(false));
    expect((await collect(splitter.reply(true))).length).toBe(0);
  });

  it('refuses the next reply when the previous one was not read to its end', async () => {
    const splitter = new ReplySplitter(asAsync(chunked(Buffer.concat([query, header]), 4)));
    for await (const part of splitter.reply(false)) {
      void part;
      break;
    }
    await expect(collect(splitter.reply(true))).rejects.toBeInstanceOf(OrchestratorError);
    await expect(collect(splitter.reply(true))).rejects.toMatchObject({ code: 'worker.protocol' });
  });
});
