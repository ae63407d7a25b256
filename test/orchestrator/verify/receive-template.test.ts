/**
 * receiveTemplate, the driver, over an in-memory worker stream (the real worker's frames, encoded):
 * the import's last chunk is released only after END and the validate hook; the watchdog's timers
 * end a worker that only sends PROGRESS, in milliseconds; an empty image never reaches the import.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import type { ImageStream } from '../../../orchestrator/verify/image-stream.ts';
import { receiveTemplate, type ReceiveOptions } from '../../../orchestrator/verify/receive-template.ts';
import { encodeFrame, encodeJsonFrame, type Frame } from '../../../protocol/frames.ts';
import { makeTemplateFrames, type TemplateFrames } from '../../helpers/template-frames.ts';

let fixture: TemplateFrames | undefined;

beforeAll(async () => {
  fixture = await makeTemplateFrames();
}, 120_000);

afterAll(async () => {
  await fixture?.close();
});

function frames(): TemplateFrames {
  if (!fixture) throw new Error('no fixture');
  return fixture;
}

/** The frames as the worker's byte stream, one frame per chunk, each after a turn of the event loop. */
async function* streamOf(
  list: readonly Frame[],
  then?: () => AsyncGenerator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  for (const frame of list) {
    await new Promise((resolve) => setImmediate(resolve));
    yield encodeFrame(frame.type, frame.payload);
  }
  if (then) yield* then();
}

/** PROGRESS every `ms`, for ever. */
async function* progressEvery(ms: number): AsyncGenerator<Uint8Array> {
  for (let done = 0; ; done++) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    yield encodeJsonFrame('PROGRESS', { stage: 'unpack', done });
  }
}

interface Trace {
  readonly events: string[];
  imported: number;
  realSize: number;
}

function options(
  stream: AsyncIterable<Uint8Array>,
  trace: Trace,
  extra: Partial<ReceiveOptions> = {},
): ReceiveOptions {
  return {
    op: 'unpack',
    stream,
    keys: [...frames().keys],
    nogpgcheck: false,
    expected: undefined,
    repoid: null,
    log: pino({ level: 'silent' }),
    prepare: () => {
      trace.events.push('prepare');
      return Promise.resolve(async (image: ImageStream) => {
        trace.realSize = image.member.realSize;
        for await (const chunk of image.data) trace.imported += chunk.length;
        trace.events.push('imported');
      });
    },
    validate: () => {
      trace.events.push(`validate at ${trace.imported}`);
    },
    ...extra,
  };
}

function newTrace(): Trace {
  return { events: [], imported: 0, realSize: -1 };
}

const firstPartData = (list: readonly Frame[]): number => {
  const begin = list.findIndex(
    (f) => f.type === 'FILE_BEGIN' && /root\.img\.part\.00"/.test(new TextDecoder().decode(f.payload)),
  );
  return list.findIndex((f, i) => i > begin && f.type === 'FILE_DATA');
};

describe('receiveTemplate', () => {
  it('releases the last chunk of the image only after END and validate', async () => {
    const trace = newTrace();
    const received = await receiveTemplate(options(streamOf(frames().honest), trace));
    expect(received.files.get('template.conf')?.length).toBe(0);
    expect(trace.realSize).toBe(256 * 1024);
    expect(trace.imported).toBe(trace.realSize);
    const validate = trace.events.find((e) => e.startsWith('validate')) ?? '';
    expect(Number(validate.split(' ').at(-1))).toBeLessThan(trace.realSize);
    expect(trace.events.map((e) => e.split(' ')[0])).toEqual(['prepare', 'validate', 'imported']);
  });

  it('a failing validate hook aborts the import short of its last chunk', async () => {
    const trace = newTrace();
    const refusal = new OrchestratorError('template.conf', 'bad template.conf');
    const run = receiveTemplate(
      options(streamOf(frames().honest), trace, {
        validate: () => {
          throw refusal;
        },
      }),
    );
    await expect(run).rejects.toBe(refusal);
    expect(trace.imported).toBeLessThan(trace.realSize);
    expect(trace.events).not.toContain('imported');
  });

  it('PROGRESS after the first image data is no liveness: worker.timeout in milliseconds', async () => {
    const trace = newTrace();
    const list = frames().honest;
    const stalled = streamOf(list.slice(0, firstPartData(list) + 1), () => progressEvery(10));
    const started = performance.now();
    const run = receiveTemplate(options(stalled, trace, { limits: { idleTimeoutMs: 150 } }));
    await expect(run).rejects.toMatchObject({ code: 'worker.timeout' });
    await expect(run).rejects.toBeInstanceOf(OrchestratorError);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(trace.events).not.toContain('imported');
  });

  it('no file data for a window: worker.too-slow', async () => {
    const trace = newTrace();
    const list = frames().honest;
    const stalled = streamOf(list.slice(0, firstPartData(list) + 1), () => progressEvery(10));
    const run = receiveTemplate(
      options(stalled, trace, { limits: { idleTimeoutMs: 60_000, minProgressWindowMs: 150 } }),
    );
    await expect(run).rejects.toMatchObject({ code: 'worker.too-slow' });
  });

  it('the overall deadline from the signed sizes: worker.deadline', async () => {
    const trace = newTrace();
    const list = frames().honest;
    const stalled = streamOf(list.slice(0, firstPartData(list) + 1), () => progressEvery(10));
    const run = receiveTemplate(
      options(stalled, trace, {
        limits: {
          idleTimeoutMs: 60_000,
          minProgressWindowMs: 60_000,
          deadlineBaseMs: 100,
          minRateBytesPerSecond: 1e9,
        },
      }),
    );
    await expect(run).rejects.toMatchObject({ code: 'worker.deadline' });
  });

  it('an empty image: image.empty, the import consumer never called', async () => {
    const trace = newTrace();
    const run = receiveTemplate(options(streamOf(frames().emptyImage), trace));
    await expect(run).rejects.toMatchObject({ code: 'image.empty' });
    expect(trace.events).toEqual(['prepare']);
    expect(trace.realSize).toBe(-1);
  });
});
