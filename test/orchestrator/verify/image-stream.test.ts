/**
 * The root image tar's member name: what the builder writes (a relative path ending in root.img,
 * GNU tar having stripped the leading '/') is imported; `../` names, absolute names, and such
 * names carried in a GNU long name or a pax GNU.sparse.name are refused before a byte of the
 * image is released, with 'template.image-name'.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImageMemberName, openImageStream } from '../../../orchestrator/verify/image-stream.ts';
import { VerificationError } from '../../../protocol/errors.ts';
import { writeSparseImage } from '../../../sim/forge/image-source.ts';
import { writeSparseTar, type SparseTarWriterFormat } from '../../../sim/forge/sparse-tar-writer.ts';

const IMAGE_SIZE = 64 * 1024;
const LONG_DIR = `${'builder/'.repeat(16)}qubeized_images/fedora-41`;

let work: string;
let image: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-image-stream-'));
  image = path.join(work, 'root.img');
  await writeSparseImage(image, {
    size: IMAGE_SIZE,
    extents: [{ offset: 4096, bytes: new Uint8Array(4096).fill(0x5a) }],
  });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function bytes(memberName: string, format: SparseTarWriterFormat): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of writeSparseTar(image, { memberName, format })) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Opens the stream over the tar and reads the image to its end (commit given). */
async function imported(memberName: string, format: SparseTarWriterFormat): Promise<number> {
  const tar = await bytes(memberName, format);
  const stream = await openImageStream(Readable.from([tar]) as AsyncIterable<Uint8Array>, Promise.resolve());
  let total = 0;
  for await (const chunk of stream.data) total += chunk.length;
  return total;
}

async function refusal(memberName: string, format: SparseTarWriterFormat): Promise<string> {
  try {
    await imported(memberName, format);
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    return (error as VerificationError).code;
  }
  return 'accepted';
}

describe('checkImageMemberName', () => {
  it.each([
    'root.img',
    './root.img',
    'builder/qubeized_images/fedora-41/root.img',
    `${LONG_DIR}/root.img`,
    'qubeized_images/fedora-41-root.img',
  ])('accepts %s', (name) => {
    expect(() => checkImageMemberName(name)).not.toThrow();
  });

  it.each([
    '../../etc/x',
    '/etc/x',
    '/builder/root.img',
    '../root.img',
    'a/../../root.img',
    'root.img/..',
    'root.img/',
    'etc/shadow',
  ])('refuses %s', (name) => {
    expect(() => checkImageMemberName(name)).toThrow(
      expect.objectContaining({ code: 'template.image-name' }) as Error,
    );
  });
});

describe('openImageStream checks the member name before releasing any byte', () => {
  it('imports the builder-shaped names, short and GNU long', async () => {
    expect(await imported('root.img', 'gnu-sparse')).toBe(IMAGE_SIZE);
    expect(await imported(`${LONG_DIR}/root.img`, 'gnu-sparse')).toBe(IMAGE_SIZE);
    expect(await imported(`${LONG_DIR}/root.img`, 'pax-1.0')).toBe(IMAGE_SIZE);
  });

  it.each<[string, string, SparseTarWriterFormat]>([
    ['../../etc/x', '../../etc/x', 'gnu-sparse'],
    ['/etc/x', '/etc/x', 'plain'],
    ['a GNU long name climbing out', `${'../'.repeat(40)}etc/cron.d/root.img`, 'gnu-sparse'],
    ['a GNU long absolute name', `/${LONG_DIR}/root.img`, 'gnu-sparse'],
    ['a pax GNU.sparse.name climbing out', '../../etc/x', 'pax-1.0'],
  ])('%s: template.image-name', async (_what, name, format) => {
    expect(await refusal(name, format)).toBe('template.image-name');
  });
});
