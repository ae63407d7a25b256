/**
 * `npm run bench:payload`: payload decompression + verification through tmpl's worker code, side
 * by side with the incumbent's `rpm2cpio PKG | cpio -idm` on the same package, per compressor.
 *
 * The package is template-shaped: template.conf plus root.img.part.NN files holding
 * semi-compressible data (runs of zeros, text-like runs, random runs), built with rpmbuild in
 * each payload compression rpm offers.
 *
 * tmpl: head parsed, then unpackPayload (PAYLOADDIGEST over the compressed bytes, decompression,
 * strict cpio, every file's FILEDIGESTS checked); the file data is consumed, not written.
 * Incumbent: rpm2cpio (no digest checks) piped into GNU cpio, which writes every file to disk.
 * Figures: wall time and MiB/s of decompressed payload.
 *
 * Options: --data-mib N (256), --part-mib N (64), --only w3.zstdio,... , --backends zstd-cli,...
 * (decompressor backends to prefer; default: the measured order), --keep.
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { DecompressBackend } from '../dispvm-worker/decompress.ts';
import { unpackPayload } from '../dispvm-worker/payload.ts';
import { ALL_COMPRESSORS, buildRpm, type RpmCompressor } from '../test/helpers/rpm-fixtures.ts';
import { openPackage } from '../test/helpers/payload-fixture.ts';
import { semiCompressible } from '../test/helpers/payload-data.ts';

const MiB = 1024 * 1024;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const value = await fn();
  return [(performance.now() - t) / 1000, value];
}

async function ours(pkg: string, backends: readonly DecompressBackend[] | undefined): Promise<number> {
  const { info, payload } = await openPackage(pkg);
  let bytes = 0;
  for await (const entry of unpackPayload(info, payload, backends !== undefined ? { backends } : {})) {
    for await (const chunk of entry.content) bytes += chunk.length;
  }
  return bytes;
}

async function incumbent(pkg: string, into: string): Promise<void> {
  await mkdir(into, { recursive: true });
  await execa('sh', ['-c', 'rpm2cpio "$0" | cpio --quiet -idm', pkg], { cwd: into });
  await rm(into, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const dataMiB = Number(option('data-mib', '256'));
  const partMiB = Number(option('part-mib', '64'));
  const only = option('only', '');
  const backendList = option('backends', '');
  const backends = backendList === '' ? undefined : (backendList.split(',') as DecompressBackend[]);
  const compressors = only === '' ? ALL_COMPRESSORS : (only.split(',') as RpmCompressor[]);
  const work = await mkdtemp(path.join(os.tmpdir(), 'tmpl-bench-payload-'));
  try {
    const files: { path: string; content: Uint8Array | string }[] = [
      { path: '/var/lib/qubes/vm-templates/bench/template.conf', content: 'virt_mode=pvh\n' },
    ];
    for (let i = 0, left = dataMiB; left > 0; i++, left -= partMiB) {
      files.push({
        path: `/var/lib/qubes/vm-templates/bench/root.img.part.${String(i).padStart(2, '0')}`,
        content: semiCompressible(Math.min(left, partMiB) * MiB, i + 1),
      });
    }
    process.stdout.write(
      `payload of ${dataMiB} MiB in ${files.length - 1} parts; ${os.cpus().length} CPUs; load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n\n`,
    );
    const header = [
      'compressor',
      'package MiB',
      'tmpl s',
      'tmpl MiB/s',
      'rpm2cpio|cpio s',
      'rpm2cpio|cpio MiB/s',
    ];
    process.stdout.write(header.join('\t') + '\n');
    for (const compressor of compressors) {
      const dir = path.join(work, compressor);
      await mkdir(dir);
      const pkg = await buildRpm({
        dir,
        name: 'qubes-template-bench',
        version: '1',
        release: '1',
        compressor,
        files,
      });
      const pkgMiB = (await stat(pkg)).size / MiB;
      const [tOurs, bytes] = await timed(() => ours(pkg, backends));
      const [tTheirs] = await timed(() => incumbent(pkg, path.join(dir, 'x')));
      const outMiB = bytes / MiB;
      process.stdout.write(
        [
          compressor,
          pkgMiB.toFixed(1),
          tOurs.toFixed(2),
          (outMiB / tOurs).toFixed(0),
          tTheirs.toFixed(2),
          (outMiB / tTheirs).toFixed(0),
        ].join('\t') + '\n',
      );
      await rm(pkg, { force: true });
    }
  } finally {
    if (!process.argv.includes('--keep')) await rm(work, { recursive: true, force: true });
  }
}

await main();
