/**
 * `tmpl-sim forge --out DIR [options]`: forge one signed template package (and, with --repo,
 * the repository metadata of every package in DIR). Prints the package path.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  FORGE_COMPRESSORS,
  exportPrivateKey,
  forgeRepository,
  forgeTemplate,
  generateSigningKey,
  loadSigningKey,
  type ForgeCompressor,
  type TarFormat,
} from '../forge/index.ts';
import type { SimCommand } from './types.ts';

const USAGE = `usage: tmpl-sim forge --out DIR [options]
  --name N              template name (package qubes-template-N)   [fedora-40]
  --version V           [4.2.0]
  --release R           [202601010000]
  --epoch E             (absent by default)
  --compressor C        zstd | xz | gzip | bzip2 | none            [zstd]
  --part-size BYTES     root.img.part size                          [1073741824]
  --image PATH          root image to package (else a sparse one is made)
  --image-size BYTES    size of the made image                      [1073741824]
  --data-bytes BYTES    pseudo-random data at the image's start     [1048576]
  --tar-format F        gnu-sparse | pax-1.0 | plain                [gnu-sparse]
  --template-conf FILE  template.conf content
  --canary PATH         %pre/%post append to PATH if ever run
  --key FILE            armoured private key to sign with (else a new key)
  --key-out FILE        write the signing key's public key here
  --secret-key-out FILE write the signing key's private key here
  --unsigned            do not sign the package
  --repo                (re)write DIR/repodata for every .rpm in DIR, signed
`;

const TAR_FORMATS: readonly TarFormat[] = ['gnu-sparse', 'pax-1.0', 'plain'];

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function forge(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      out: { type: 'string' },
      name: { type: 'string', default: 'fedora-40' },
      version: { type: 'string', default: '4.2.0' },
      release: { type: 'string', default: '202601010000' },
      epoch: { type: 'string' },
      compressor: { type: 'string', default: 'zstd' },
      'part-size': { type: 'string' },
      image: { type: 'string' },
      'image-size': { type: 'string' },
      'data-bytes': { type: 'string' },
      'tar-format': { type: 'string', default: 'gnu-sparse' },
      'template-conf': { type: 'string' },
      canary: { type: 'string' },
      key: { type: 'string' },
      'key-out': { type: 'string' },
      'secret-key-out': { type: 'string' },
      unsigned: { type: 'boolean', default: false },
      repo: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.out) throw new Error(`--out DIR is required\n${USAGE}`);
  if (!FORGE_COMPRESSORS.includes(values.compressor as ForgeCompressor)) {
    throw new Error(`--compressor must be one of ${FORGE_COMPRESSORS.join(', ')}`);
  }
  if (!TAR_FORMATS.includes(values['tar-format'] as TarFormat)) {
    throw new Error(`--tar-format must be one of ${TAR_FORMATS.join(', ')}`);
  }
  const outDir = path.resolve(values.out);
  const key = values.key
    ? await loadSigningKey(await readFile(values.key, 'utf8'))
    : await generateSigningKey('tmpl-sim forge');
  if (values['key-out']) await writeFile(values['key-out'], key.publicKeyArmored);
  if (values['secret-key-out'])
    await writeFile(values['secret-key-out'], exportPrivateKey(key), { mode: 0o600 });

  const imageSize = integer(values['image-size'], 1024 ** 3, 'image-size');
  const dataBytes = Math.min(imageSize, integer(values['data-bytes'], 1024 * 1024, 'data-bytes'));
  const forged = await forgeTemplate({
    name: values.name,
    version: values.version,
    release: values.release,
    ...(values.epoch !== undefined ? { epoch: integer(values.epoch, 0, 'epoch') } : {}),
    image: values.image
      ? { path: path.resolve(values.image) }
      : {
          size: imageSize,
          extents: dataBytes > 0 ? [{ offset: 0, length: dataBytes, seed: values.name }] : [],
        },
    compressor: values.compressor as ForgeCompressor,
    partSize: integer(values['part-size'], 1024 ** 3, 'part-size'),
    tarFormat: values['tar-format'] as TarFormat,
    ...(values['template-conf'] ? { templateConf: await readFile(values['template-conf'], 'utf8') } : {}),
    ...(values.canary ? { canaryPath: path.resolve(values.canary) } : {}),
    ...(values.unsigned ? {} : { signingKey: key }),
    outDir,
  });
  process.stdout.write(`${forged.path}\n`);
  if (values.repo) {
    const rpms = (await readdir(outDir)).filter((f) => f.endsWith('.rpm')).map((f) => path.join(outDir, f));
    const repo = await forgeRepository({ dir: outDir, packages: rpms, signingKey: key });
    process.stdout.write(`${repo.repomdPath}\n`);
  }
  return 0;
}

export const forgeCommand: SimCommand = {
  name: 'forge',
  summary: 'forge a signed template package (and repodata)',
  run: forge,
};
