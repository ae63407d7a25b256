import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeFrames, FrameSequence, type Frame } from '../../protocol/frames.ts';
import { MAX_DATA_FRAME_LENGTH } from '../../protocol/limits.ts';
import { FrameWriter } from '../../dispvm-worker/ops-output.ts';

/** A sink that completes each write later, like a pipe to a slow reader. */
function slowSink(): { out: Writable; chunks: Buffer[]; pending: () => number } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      setTimeout(() => {
        chunks.push(chunk);
        callback();
      }, 1);
    },
  });
  return { out, chunks, pending: () => out.writableLength };
}

async function framesOf(chunks: Buffer[], op: 'fetch' | 'query'): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const f of decodeFrames([Buffer.concat(chunks)], { sequence: new FrameSequence(op) }))
    frames.push(f);
  return frames;
}

describe('FrameWriter', () => {
  it('writes a legal fetch stream, splits data into frames and waits for drain', async () => {
    const { out, chunks, pending } = slowSink();
    const writer = new FrameWriter(out);
    await writer.hello('1.0.0');
    writer.setOp('fetch');
    await writer.raw('HEAD', new Uint8Array(10));
    await writer.json('METADATA', {
      package: { name: 'qubes-template-x', epoch: 0, version: '1', release: '1', arch: 'noarch' },
      repoid: null,
      files: [
        { path: '/var/lib/qubes/vm-templates/x/root.img.part.00', size: MAX_DATA_FRAME_LENGTH * 2 + 5 },
      ],
    });
    await writer.json('FILE_BEGIN', {
      path: '/var/lib/qubes/vm-templates/x/root.img.part.00',
      size: MAX_DATA_FRAME_LENGTH * 2 + 5,
    });
    let maxBuffered = 0;
    for (let i = 0; i < 8; i++) {
      await writer.raw('FILE_DATA', new Uint8Array(i < 2 ? MAX_DATA_FRAME_LENGTH : i === 2 ? 5 : 0));
      maxBuffered = Math.max(maxBuffered, pending());
    }
    await writer.json('FILE_END', { path: '/var/lib/qubes/vm-templates/x/root.img.part.00' });
    await writer.end();
    await writer.close();
    // Each awaited write returns only once the sink is below its high-water mark again.
    expect(maxBuffered).toBeLessThanOrEqual(MAX_DATA_FRAME_LENGTH + 16);
    const frames = await framesOf(chunks, 'fetch');
    const data = frames.filter((f) => f.type === 'FILE_DATA');
    expect(data.reduce((n, f) => n + f.payload.length, 0)).toBe(MAX_DATA_FRAME_LENGTH * 2 + 5);
    expect(frames.at(-1)!.type).toBe('END');
    expect(writer.files).toBe(1);
    expect(writer.dataBytes).toBe(MAX_DATA_FRAME_LENGTH * 2 + 5);
  });

  it('refuses to emit a frame out of order, or a message its schema refuses', async () => {
    const { out } = slowSink();
    const writer = new FrameWriter(out);
    await writer.hello('1.0.0');
    writer.setOp('query');
    await expect(writer.raw('HEAD', new Uint8Array(1))).rejects.toMatchObject({ code: 'frame.unexpected' });
    await expect(writer.json('END', { files: -1, bytes: 0 })).rejects.toMatchObject({
      code: 'message.schema',
    });
  });

  it('throttles PROGRESS frames unless forced', async () => {
    const { out, chunks } = slowSink();
    const writer = new FrameWriter(out);
    await writer.hello('1.0.0');
    writer.setOp('query');
    for (let i = 0; i < 50; i++) await writer.progress({ stage: 'metadata', done: i });
    await writer.progress({ stage: 'metadata', done: 50 }, true);
    await writer.json('QUERY_RESULT', { packages: [], repomd: [] });
    await writer.end();
    await writer.close();
    const progress = (await framesOf(chunks, 'query')).filter((f) => f.type === 'PROGRESS');
    expect(progress.length).toBe(2);
  });

  it('reports a closed output as worker.output', async () => {
    const out = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error('EPIPE'));
      },
    });
    const writer = new FrameWriter(out);
    await writer.hello('1.0.0').catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    await expect(writer.hello('1.0.0')).rejects.toMatchObject({ code: 'worker.output' });
  });
});
