/**
 * Worker streams for tests of the orchestrator's receiver, without a worker process or the
 * simulator: template packages forged and signed at test time, run through the real worker
 * (dispvm-worker/service.ts runWorker, op unpack) in this process, its output decoded to frames.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { PublicKey } from 'openpgp';
import pino from 'pino';
import { runWorker } from '../../dispvm-worker/service.ts';
import { decodeFrames, encodeDataFrames, FrameSequence, type Frame } from '../../protocol/frames.ts';
import { encodeRequest, type WorkerRequest } from '../../protocol/messages.ts';
import { forgeTemplate, generateSigningKey, writeRpm, type SigningKey } from '../../sim/forge/index.ts';

export const FIXTURE_TEMPLATE = 'fixture';
export const FIXTURE_DIR = `/var/lib/qubes/vm-templates/${FIXTURE_TEMPLATE}`;

export interface TemplateFrames {
  readonly keys: readonly PublicKey[];
  /** The real worker's frames for a template of several parts with an empty template.conf. */
  readonly honest: readonly Frame[];
  /** The real worker's frames for a template whose image is 0 bytes. */
  readonly emptyImage: readonly Frame[];
  /** HEAD of a package whose only root.img part (512 bytes) is too small to hold an image. */
  readonly tinyPartsHead: Frame;
  close(): Promise<void>;
}

async function workerFrames(rpmPath: string, key: SigningKey): Promise<Frame[]> {
  const rpm = await readFile(rpmPath);
  const request: WorkerRequest = {
    protocol: 1,
    op: 'unpack',
    releasever: '4.2',
    repos: [
      { id: 'commandline', baseurls: [], gpgcheck: true, repoGpgcheck: false, keys: [key.publicKeyArmored] },
    ],
  };
  const chunks: Buffer[] = [];
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  const input = [encodeRequest(request), ...encodeDataFrames('PACKAGE_DATA', rpm)];
  const status = await runWorker({ input, output, logger: pino({ level: 'silent' }) });
  if (status !== 0) throw new Error(`the worker failed on ${rpmPath}`);
  const frames: Frame[] = [];
  for await (const frame of decodeFrames([Buffer.concat(chunks)], { sequence: new FrameSequence('unpack') }))
    frames.push(frame);
  return frames;
}

export async function makeTemplateFrames(): Promise<TemplateFrames> {
  const work = await mkdtemp(path.join(tmpdir(), 'tmpl-template-frames-'));
  const key = await generateSigningKey('Template Frames', { type: 'ed25519' });
  const common = {
    version: '4.2.0',
    release: '1',
    compressor: 'zstd' as const,
    outDir: work,
    tempDir: work,
    signingKey: key,
    appmenus: { whitelisted: 'a.desktop\n', vm: 'b.desktop\n', netvm: 'c.desktop\n' },
  };
  const forged = await forgeTemplate({
    ...common,
    name: FIXTURE_TEMPLATE,
    image: { size: 256 * 1024, extents: [{ offset: 4096, length: 40_000, seed: 'receiver' }] },
    partSize: 16 * 1024,
    templateConf: '',
  });
  const empty = await forgeTemplate({
    ...common,
    name: 'empty',
    image: { size: 0, extents: [] },
    templateConf: 'gui=1\n',
  });
  const tiny = await writeRpm(
    {
      name: 'qubes-template-tiny',
      version: '1',
      release: '1',
      summary: 'tiny',
      description: 'tiny',
      license: 'GPLv3+',
      buildtime: 1_767_225_600,
      compressor: 'zstd',
      files: [
        { path: '/var/lib/qubes/vm-templates/tiny', kind: 'dir' },
        { path: '/var/lib/qubes/vm-templates/tiny/root.img.part.00', kind: 'file', content: 'x'.repeat(512) },
      ],
    },
    { outPath: path.join(work, 'tiny.rpm'), signingKey: key },
  );
  const tinyHead = (await workerFrames(tiny.path, key)).find((f) => f.type === 'HEAD');
  if (tinyHead === undefined) throw new Error('no HEAD for the tiny package');
  return {
    keys: [key.privateKey.toPublic()],
    honest: await workerFrames(forged.path, key),
    emptyImage: await workerFrames(empty.path, key),
    tinyPartsHead: tinyHead,
    close: () => rm(work, { recursive: true, force: true }),
  };
}
