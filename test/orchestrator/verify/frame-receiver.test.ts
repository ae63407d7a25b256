/**
 * The orchestrator's frame receiver as a pure state machine, driven with arrays of frames: the
 * honest ones come from the real worker (run inline on a package forged and signed at test
 * time, its template.conf empty), the lies are those frames edited. Each refusal is asserted by
 * error class and code, and by what the machine asked its caller to do before it (never to
 * prepare the import when the header or METADATA is refused).
 */
import path from 'node:path';
import type { PublicKey } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FrameReceiver,
  MAX_PROGRESS_FRAMES_WITHOUT_ADVANCE,
  MIN_IMAGE_ARCHIVE_BYTES,
  type ReceivedTemplate,
  type ReceiverAction,
} from '../../../orchestrator/verify/frame-receiver.ts';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import { openImageStream } from '../../../orchestrator/verify/image-stream.ts';
import { verifyHead } from '../../../orchestrator/verify/package-head.ts';
import { ParseError, VerificationError } from '../../../protocol/errors.ts';
import type { Frame } from '../../../protocol/frames.ts';
import {
  FIXTURE_DIR as DIR,
  FIXTURE_TEMPLATE as NAME,
  makeTemplateFrames,
  type TemplateFrames,
} from '../../helpers/template-frames.ts';

const SETTINGS = [
  'template.conf',
  'whitelisted-appmenus.list',
  'vm-whitelisted-appmenus.list',
  'netvm-whitelisted-appmenus.list',
].map((f) => `${DIR}/${f}`);

let fixture: TemplateFrames | undefined;
let keys: readonly PublicKey[];
let honest: readonly Frame[];
let emptyImage: readonly Frame[];
let tinyPartsHead: Frame;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

beforeAll(async () => {
  fixture = await makeTemplateFrames();
  ({ keys, honest, emptyImage, tinyPartsHead } = fixture);
}, 120_000);

afterAll(async () => {
  await fixture?.close();
});

function fail(message: string): never {
  throw new Error(message);
}

function json(frame: Frame): Record<string, unknown> {
  return JSON.parse(decoder.decode(frame.payload)) as Record<string, unknown>;
}

function data(bytes: Uint8Array = new Uint8Array(0)): Frame {
  return { type: 'FILE_DATA', payload: bytes };
}

function jsonFrame(type: Frame['type'], value: unknown): Frame {
  return { type, payload: encoder.encode(JSON.stringify(value)) };
}

function pathOf(f: Frame): string | undefined {
  return f.type === 'FILE_BEGIN' || f.type === 'FILE_END' ? String(json(f).path) : undefined;
}

/** The frames without the FILE_BEGIN..FILE_END runs of the given paths. */
function withoutFiles(frames: readonly Frame[], paths: readonly string[]): Frame[] {
  const out: Frame[] = [];
  let skipping = false;
  for (const f of frames) {
    if (f.type === 'FILE_BEGIN' && paths.includes(pathOf(f) ?? '')) skipping = true;
    if (!skipping) out.push(f);
    if (f.type === 'FILE_END' && skipping) skipping = false;
  }
  return out;
}

/** Replaces each frame for which `edit` returns something. */
function edited(frames: readonly Frame[], edit: (f: Frame, i: number) => Frame[] | undefined): Frame[] {
  return frames.flatMap((f, i) => edit(f, i) ?? [f]);
}

function withMetadata(frames: readonly Frame[], change: (m: Record<string, unknown>) => void): Frame[] {
  return edited(frames, (f) => {
    if (f.type !== 'METADATA') return undefined;
    const m = json(f);
    change(m);
    return [jsonFrame('METADATA', m)];
  });
}

interface Drive {
  readonly actions: ReceiverAction['kind'][];
  result?: ReceivedTemplate;
  error?: unknown;
  image: Uint8Array[];
}

/** Drives a fresh receiver with `frames` as receiveTemplate does, without any I/O. */
async function drive(
  frames: readonly Frame[],
  options: Partial<ConstructorParameters<typeof FrameReceiver>[0]> = {},
): Promise<Drive> {
  const receiver = new FrameReceiver({ op: 'unpack', expected: undefined, repoid: null, ...options });
  const run: Drive = { actions: [], image: [] };
  try {
    for (const f of frames) {
      const { action } = receiver.accept(f);
      run.actions.push(action.kind);
      if (action.kind === 'verify-head') {
        receiver.headVerified(await verifyHead(action.bytes, [...keys], { nogpgcheck: false }));
      }
      if (action.kind === 'image-data') run.image.push(action.bytes);
    }
    run.result = receiver.finish();
  } catch (error) {
    run.error = error;
  }
  expect(receiver.phase).toBe(run.error === undefined ? 'ended' : 'failed');
  return run;
}

async function expectRefused(
  frames: readonly Frame[],
  errorClass: new (...args: never[]) => Error,
  code: string,
  options: Partial<ConstructorParameters<typeof FrameReceiver>[0]> = {},
): Promise<Drive> {
  const run = await drive(frames, options);
  expect(run.error).toBeInstanceOf(errorClass);
  expect((run.error as { code?: string }).code, String(run.error)).toBe(code);
  expect(run.result).toBeUndefined();
  return run;
}

describe('the honest worker', () => {
  it('announces and streams every file the header lists, an empty template.conf included', () => {
    const meta = json(honest.find((f) => f.type === 'METADATA') ?? fail('no METADATA')) as {
      files: { path: string; size: number }[];
    };
    const announced = meta.files.map((f) => f.path);
    for (const file of SETTINGS) expect(announced).toContain(file);
    expect(meta.files.find((f) => f.path === `${DIR}/template.conf`)?.size).toBe(0);
    const conf = honest.findIndex((f) => f.type === 'FILE_BEGIN' && pathOf(f) === `${DIR}/template.conf`);
    expect(conf).toBeGreaterThan(0);
    expect(honest[conf + 1]?.type).toBe('FILE_END');
    expect(honest.filter((f) => f.type === 'FILE_DATA' && f.payload.length === 0)).toEqual([]);
  });

  it('is received: every small file, the image in order, the actions in protocol order', async () => {
    const run = await drive(honest);
    expect(run.error).toBeUndefined();
    const files = run.result?.files ?? fail('no result');
    expect([...files.keys()].sort()).toEqual(SETTINGS.map((p) => path.basename(p)).sort());
    expect(files.get('template.conf')?.length).toBe(0);
    expect(decoder.decode(files.get('whitelisted-appmenus.list'))).toBe('a.desktop\n');
    const kinds = run.actions.filter((a) => a !== 'none' && a !== 'report' && a !== 'image-data');
    expect(kinds).toEqual(['verify-head', 'prepare', 'open-image', 'ended']);
    expect(run.result?.head.rootParts.length).toBeGreaterThan(2);
    const imageBytes = run.image.reduce((n, c) => n + c.length, 0);
    expect(imageBytes).toBe(run.result?.head.rootPartsBytes);
  });

  it('PROGRESS frames are reported but never count as moving the transfer forward', () => {
    const receiver = new FrameReceiver({ op: 'unpack', expected: undefined, repoid: null });
    const hello = honest[0] ?? fail('no HELLO');
    expect(receiver.accept(hello).advanced).toBe(true);
    const step = receiver.accept(jsonFrame('PROGRESS', { stage: 'unpack', done: 5, total: 10 }));
    expect(step.advanced).toBe(false);
    expect(step.action).toEqual({ kind: 'report', stage: 'unpack', done: 5, total: 10 });
  });
});

describe('signed settings cannot be dropped', () => {
  it('METADATA without template.conf and the appmenu lists: refused before the import is prepared', async () => {
    const lie = withMetadata(withoutFiles(honest, SETTINGS), (m) => {
      m.files = (m.files as { path: string }[]).filter((f) => !SETTINGS.includes(f.path));
    });
    const run = await expectRefused(lie, OrchestratorError, 'worker.protocol');
    expect(run.actions).not.toContain('prepare');
  });

  it.each(SETTINGS)('METADATA without %s alone: refused', async (file) => {
    const lie = withMetadata(withoutFiles(honest, [file]), (m) => {
      m.files = (m.files as { path: string }[]).filter((f) => f.path !== file);
    });
    const run = await expectRefused(lie, OrchestratorError, 'worker.protocol');
    expect(run.actions).not.toContain('prepare');
  });

  it('announced but never streamed: refused at END', async () => {
    const lie = withoutFiles(honest, [`${DIR}/template.conf`]);
    const run = await expectRefused(lie, OrchestratorError, 'worker.protocol');
    expect(run.actions).not.toContain('ended');
  });

  it('a file announced twice: refused by the METADATA schema, before prepare', async () => {
    const lie = withMetadata(honest, (m) => {
      const files = m.files as unknown[];
      m.files = [...files, files[0]];
    });
    const run = await expectRefused(lie, ParseError, 'message.schema');
    expect(run.actions).not.toContain('prepare');
  });
});

describe('file content against the signed header', () => {
  const firstData = (frames: readonly Frame[]): number => frames.findIndex((f) => f.type === 'FILE_DATA');

  it('an empty FILE_DATA frame: refused', async () => {
    const at = firstData(honest);
    const lie = edited(honest, (f, i) => (i === at ? [data(), f] : undefined));
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });

  it('an empty FILE_DATA frame inside an empty file: refused', async () => {
    const lie = edited(honest, (f) =>
      f.type === 'FILE_BEGIN' && pathOf(f) === `${DIR}/template.conf` ? [f, data()] : undefined,
    );
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });

  it('one byte more than the header says: refused', async () => {
    const at = firstData(honest);
    const lie = edited(honest, (f, i) => (i === at ? [f, data(Uint8Array.of(1))] : undefined));
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });

  it('a flipped byte: digest mismatch at FILE_END, nothing ended', async () => {
    const at = firstData(honest);
    const lie = edited(honest, (f, i) => {
      if (i !== at) return undefined;
      const copy = new Uint8Array(f.payload);
      copy[0] = (copy[0] ?? 0) ^ 1;
      return [{ type: 'FILE_DATA', payload: copy }];
    });
    const run = await expectRefused(lie, VerificationError, 'digest.file-mismatch');
    expect(run.actions).not.toContain('ended');
  });

  it('root.img parts out of order: refused', async () => {
    const parts = honest
      .filter((f) => f.type === 'FILE_BEGIN' && /root\.img\.part\./.test(pathOf(f) ?? ''))
      .map((f) => pathOf(f) ?? '');
    const second = parts[1] ?? fail('one part only');
    const lie = withoutFiles(honest, [parts[0] ?? '']);
    expect(lie.some((f) => pathOf(f) === second)).toBe(true);
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });

  it('a file sent twice: refused', async () => {
    const begin = honest.findIndex((f) => f.type === 'FILE_BEGIN');
    const end = honest.findIndex((f, i) => i > begin && f.type === 'FILE_END');
    const run = honest.slice(begin, end + 1);
    const lie = edited(honest, (f, i) => (i === end ? [f, ...run] : undefined));
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });

  it('a file the header does not list: refused', async () => {
    const evil = `${DIR}/evil.sh`;
    const lie = edited(honest, (f) =>
      f.type === 'END'
        ? [
            jsonFrame('FILE_BEGIN', { path: evil, size: 4 }),
            data(encoder.encode('evil')),
            jsonFrame('FILE_END', { path: evil }),
            f,
          ]
        : undefined,
    );
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });

  it('FILE_END naming another file: refused', async () => {
    const end = honest.findIndex((f) => f.type === 'FILE_END');
    const lie = edited(honest, (_f, i) =>
      i === end ? [jsonFrame('FILE_END', { path: `${DIR}/other` })] : undefined,
    );
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });

  it('END totals that disagree: refused', async () => {
    const lie = edited(honest, (f) => {
      if (f.type !== 'END') return undefined;
      const end = json(f) as { files: number; bytes: number };
      return [jsonFrame('END', { files: end.files, bytes: end.bytes + 1 })];
    });
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });
});

describe('the stream around the files', () => {
  it('METADATA naming another release: refused before prepare', async () => {
    const lie = withMetadata(honest, (m) => {
      (m.package as { release: string }).release = '2';
    });
    const run = await expectRefused(lie, OrchestratorError, 'worker.protocol');
    expect(run.actions).not.toContain('prepare');
  });

  it('METADATA with a repository id where none was asked for: refused', async () => {
    const lie = withMetadata(honest, (m) => {
      m.repoid = 'elsewhere';
    });
    await expectRefused(lie, OrchestratorError, 'worker.protocol');
  });

  it('a head of another package than the one fetched: refused before prepare', async () => {
    const run = await expectRefused(honest, VerificationError, 'package.unexpected', {
      op: 'fetch',
      expected: { name: `qubes-template-${NAME}`, epoch: 0, version: '4.2.0', release: '2' },
    });
    expect(run.actions).not.toContain('prepare');
  });

  it('the worker reports an error: its failure, at any point', async () => {
    const error = jsonFrame('ERROR', { code: 'worker.internal', message: 'line one\nforged line' });
    const at = honest.findIndex((f) => f.type === 'FILE_DATA');
    await expectRefused([...honest.slice(0, at), error], OrchestratorError, 'worker.reported-error');
  });

  it('a stream that stops before END: truncated', async () => {
    await expectRefused(honest.slice(0, -1), ParseError, 'frame.truncated');
  });

  it('a frame after END: refused', async () => {
    await expectRefused(
      [...honest, jsonFrame('PROGRESS', { stage: 'unpack', done: 0 })],
      ParseError,
      'frame.after-end',
    );
  });

  it('file data before METADATA: unexpected', async () => {
    const head = honest.findIndex((f) => f.type === 'HEAD');
    const lie = edited(honest, (f, i) => (i === head ? [f, data(Uint8Array.of(1))] : undefined));
    const run = await expectRefused(lie, ParseError, 'frame.unexpected');
    expect(run.actions).not.toContain('prepare');
  });

  it(`more than ${MAX_PROGRESS_FRAMES_WITHOUT_ADVANCE} PROGRESS frames in a row: refused`, async () => {
    const at = honest.findIndex((f) => f.type === 'FILE_DATA');
    const progress = jsonFrame('PROGRESS', { stage: 'unpack', done: 1 });
    const flood = Array.from({ length: MAX_PROGRESS_FRAMES_WITHOUT_ADVANCE + 1 }, () => progress);
    const started = performance.now();
    await expectRefused([...honest.slice(0, at), ...flood], OrchestratorError, 'worker.protocol');
    expect(performance.now() - started).toBeLessThan(5000);
    // One fewer, followed by data: accepted.
    const within = flood.slice(1);
    const run = await drive([...honest.slice(0, at), ...within, ...honest.slice(at)]);
    expect(run.error).toBeUndefined();
  });

  it('frames after a refusal are refused too', () => {
    const receiver = new FrameReceiver({ op: 'unpack', expected: undefined, repoid: null });
    expect(() => receiver.accept(data(Uint8Array.of(1)))).toThrow(ParseError);
    expect(receiver.phase).toBe('failed');
    expect(() => receiver.accept(honest[0] ?? fail('no HELLO'))).toThrow(OrchestratorError);
  });
});

describe('an empty image is refused', () => {
  it(`root.img parts of fewer than ${MIN_IMAGE_ARCHIVE_BYTES} bytes: refused when the head verifies`, async () => {
    const frames = [honest[0] ?? fail('no HELLO'), tinyPartsHead];
    const run = await expectRefused(frames, OrchestratorError, 'image.empty');
    expect(run.actions).toEqual(['none', 'verify-head']);
  });

  it('a 0-byte image: the image stream refuses it before any import starts', async () => {
    const run = await drive(emptyImage);
    expect(run.error).toBeUndefined();
    const imported = openImageStream(
      (async function* () {
        for (const chunk of run.image) yield await Promise.resolve(chunk);
      })(),
      Promise.resolve(),
    );
    await expect(imported).rejects.toBeInstanceOf(OrchestratorError);
    await expect(imported).rejects.toMatchObject({ code: 'image.empty' });
  });
});
