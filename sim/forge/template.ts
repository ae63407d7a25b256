/**
 * Template packages laid out as the Qubes builder's template.spec makes them: everything under
 * /var/lib/qubes/vm-templates/NAME/ (QUBES.md, "Template RPM layout"), the root image as a tar
 * split into parts, root.img/private.img/volatile.img as %ghost entries.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gnuTarImage, splitIntoParts, type ImagePart, type TarFormat } from './image-parts.ts';
import { blockExtents, writeSparseImage, type ImageSpec } from './image-source.ts';
import { writeSparseTar } from './sparse-tar-writer.ts';
import type { ForgeCompressor } from './payload-compressor.ts';
import {
  rpmFileName,
  writeRpm,
  type ExtraCpioEntry,
  type RpmFileSpec,
  type RpmMutations,
  type StreamedContent,
  type WrittenRpm,
} from './rpm-writer.ts';
import type { SigningKey } from './signing-key.ts';

export const TEMPLATES_DIR = '/var/lib/qubes/vm-templates';
/** The builder splits the tar into 1 GiB parts. */
export const DEFAULT_PART_SIZE = 1024 ** 3;

/** Lies a hostile template package can tell; see test/security/ for the attacks they model. */
export interface TemplateMutations {
  /** Flip one byte of the last root.img part in the payload; the header keeps the true digest. */
  readonly corruptLastPart?: { readonly offset?: number };
  /** A regular file in the payload that the header does not list. */
  readonly unlistedFile?: { readonly path: string; readonly content: string | Uint8Array };
  /** Raw cpio entries (symlinks, devices, `../` names) in the payload only. */
  readonly cpioEntries?: readonly ExtraCpioEntry[];
  /** NAME tag of another package (file name and provides keep the real name). */
  readonly headerName?: string;
  /** Scriptlet bodies replacing the canary ones (e.g. writing outside the template dir). */
  readonly scripts?: { readonly pre?: string; readonly post?: string };
  /** Sizes declared in the header, larger than the payload's. */
  readonly oversize?: { readonly installedSize?: number; readonly lastPartSize?: number };
  /** PAYLOADDIGEST that does not match the payload. */
  readonly payloadDigestMismatch?: boolean;
  /**
   * Entries listed in the signed header and shipped in the payload besides the builder's: files
   * outside the template directory, another template's files, an extra `root.img.part.x`.
   */
  readonly extraFiles?: readonly RpmFileSpec[];
  /**
   * Builder entries replaced, by name in the template directory ('' for the directory itself):
   * template.conf as a symlink or a FIFO, apps/ as a symlink to a directory elsewhere.
   */
  readonly replacedFiles?: Readonly<Record<string, Omit<RpmFileSpec, 'path'>>>;
}

export interface ForgeTemplateOptions {
  /** Template name: the package is qubes-template-NAME. */
  readonly name: string;
  readonly version: string;
  readonly release: string;
  readonly epoch?: number;
  readonly image: ImageSpec;
  readonly compressor?: ForgeCompressor;
  readonly compressionLevel?: number;
  readonly partSize?: number;
  readonly templateConf?: string;
  readonly appmenus?: { readonly whitelisted?: string; readonly vm?: string; readonly netvm?: string };
  readonly summary?: string;
  readonly description?: string;
  readonly license?: string;
  readonly url?: string;
  readonly buildtime?: number;
  readonly signingKey?: SigningKey;
  /** Also sign header+payload, as the Qubes builder's `rpmsign --rpmv3` does (default true). */
  readonly legacySignature?: boolean;
  readonly signatureDate?: Date;
  /** %pre and %post append a line to this file if they ever run. */
  readonly canaryPath?: string;
  readonly tarFormat?: TarFormat;
  /** Archiver: the forge's own (default) or GNU tar, the builder's. */
  readonly tarWriter?: 'forge' | 'gnu-tar';
  /** Member name inside the tar (the builder's is a long absolute build path). */
  readonly tarMemberName?: string;
  /** Directory the .rpm is written to. */
  readonly outDir: string;
  readonly tempDir?: string;
  readonly largeFiles?: 'auto' | 'always';
  readonly mutations?: TemplateMutations;
}

export interface ForgedTemplate extends WrittenRpm {
  readonly packageName: string;
  readonly fileName: string;
  readonly parts: readonly Omit<ImagePart, 'path'>[];
  /** Total bytes of the split tar. */
  readonly tarSize: number;
}

const DEFAULT_BUILDTIME = 1_767_225_600;
/** Value the corrupted byte is XORed with. */
const CORRUPT_MASK = 0xff;

function fileContent(part: ImagePart): StreamedContent {
  return {
    size: part.size,
    sha256: part.sha256,
    open: () => createReadStream(part.path) as AsyncIterable<Uint8Array>,
  };
}

function corrupted(part: ImagePart, offset: number): StreamedContent {
  return {
    size: part.size,
    sha256: part.sha256, // what the header will claim, not what the bytes hash to
    open: async function* () {
      let at = 0;
      for await (const chunk of createReadStream(part.path) as AsyncIterable<Uint8Array>) {
        if (offset >= at && offset < at + chunk.length) {
          const copy = new Uint8Array(chunk);
          copy[offset - at] = copy[offset - at]! ^ CORRUPT_MASK;
          yield copy;
        } else {
          yield chunk;
        }
        at += chunk.length;
      }
    },
  };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Builds qubes-template-NAME-VERSION-RELEASE.noarch.rpm in opts.outDir. */
export async function forgeTemplate(opts: ForgeTemplateOptions): Promise<ForgedTemplate> {
  const packageName = `qubes-template-${opts.name}`;
  const dest = `${TEMPLATES_DIR}/${opts.name}`;
  const mut = opts.mutations ?? {};
  await mkdir(opts.outDir, { recursive: true });
  const work = await mkdtemp(path.join(opts.tempDir ?? tmpdir(), 'tmpl-forge-template-'));
  try {
    let imagePath: string;
    let extents: { offset: number; length: number }[] | undefined;
    if ('path' in opts.image) {
      imagePath = opts.image.path;
    } else {
      imagePath = path.join(work, 'root.img');
      await writeSparseImage(imagePath, opts.image);
      extents = blockExtents(opts.image.size, opts.image.extents);
    }
    const memberName = opts.tarMemberName ?? 'root.img';
    const format = opts.tarFormat ?? 'gnu-sparse';
    const tar =
      opts.tarWriter === 'gnu-tar'
        ? gnuTarImage(imagePath, memberName, format)
        : writeSparseTar(imagePath, {
            memberName,
            format,
            mode: 0o644,
            mtime: opts.buildtime ?? DEFAULT_BUILDTIME,
            uid: 0,
            gid: 0,
            uname: 'root',
            gname: 'root',
            ...(extents ? { extents } : {}),
          });
    const partsDir = path.join(work, 'parts');
    await mkdir(partsDir);
    const parts = await splitIntoParts(tar, opts.partSize ?? DEFAULT_PART_SIZE, partsDir);
    const last = parts[parts.length - 1];

    const listed = (perms: number, extra: Partial<RpmFileSpec> = {}) => ({
      perms,
      user: 'root',
      group: 'qubes',
      ...extra,
    });
    const builderFiles: RpmFileSpec[] = [
      { path: dest, kind: 'dir', ...listed(0o2770) },
      ...['apps', 'apps.templates', 'apps.tempicons'].map((d): RpmFileSpec => ({
        path: `${dest}/${d}`,
        kind: 'dir',
        ...listed(0o775),
      })),
      { path: `${dest}/clean-volatile.img.tar`, kind: 'file', content: '', ...listed(0o660) },
      ...(
        [
          ['whitelisted-appmenus.list', opts.appmenus?.whitelisted ?? ''],
          ['vm-whitelisted-appmenus.list', opts.appmenus?.vm ?? ''],
          ['netvm-whitelisted-appmenus.list', opts.appmenus?.netvm ?? ''],
          ['template.conf', opts.templateConf ?? ''],
        ] as const
      ).map(([file, content]): RpmFileSpec => ({
        path: `${dest}/${file}`,
        kind: 'file',
        content,
        ...listed(0o664),
      })),
      ...['root.img', 'private.img', 'volatile.img'].map((g): RpmFileSpec => ({
        path: `${dest}/${g}`,
        kind: 'file',
        ghost: true,
        ...listed(0o660),
      })),
      ...parts.map((p): RpmFileSpec => ({
        path: `${dest}/${p.name}`,
        kind: 'file',
        content: fileContent(p),
        ...listed(0o660),
      })),
    ];
    const replaced = mut.replacedFiles ?? {};
    const files: RpmFileSpec[] = [
      ...builderFiles.map((f): RpmFileSpec => {
        const name = f.path === dest ? '' : f.path.slice(dest.length + 1);
        const replacement = Object.hasOwn(replaced, name) ? replaced[name] : undefined;
        return replacement ? { ...replacement, path: f.path } : f;
      }),
      ...(mut.extraFiles ?? []),
    ];

    const canary = opts.canaryPath;
    const preScript =
      mut.scripts?.pre ?? (canary !== undefined ? `echo "pre $1" >> ${shellQuote(canary)}` : undefined);
    const postScript =
      mut.scripts?.post ?? (canary !== undefined ? `echo "post $1" >> ${shellQuote(canary)}` : undefined);

    const rpmMutations: RpmMutations = {
      ...(mut.headerName !== undefined ? { headerName: mut.headerName } : {}),
      ...(mut.corruptLastPart && last
        ? {
            payloadContent: {
              [`${dest}/${last.name}`]: corrupted(
                last,
                mut.corruptLastPart.offset ?? Math.floor(last.size / 2),
              ),
            },
          }
        : {}),
      extraCpioEntries: [
        ...(mut.unlistedFile
          ? [{ name: `.${mut.unlistedFile.path}`, kind: 'file' as const, content: mut.unlistedFile.content }]
          : []),
        ...(mut.cpioEntries ?? []),
      ],
      ...(mut.oversize?.installedSize !== undefined
        ? { declaredInstalledSize: mut.oversize.installedSize }
        : {}),
      ...(mut.oversize?.lastPartSize !== undefined && last
        ? { declaredFileSizes: { [`${dest}/${last.name}`]: mut.oversize.lastPartSize } }
        : {}),
      ...(mut.payloadDigestMismatch ? { payloadDigest: '0'.repeat(64) } : {}),
    };

    const spec = {
      name: packageName,
      ...(opts.epoch !== undefined ? { epoch: opts.epoch } : {}),
      version: opts.version,
      release: opts.release,
      summary: opts.summary ?? `Qubes OS template for ${opts.name}`,
      description: opts.description ?? `Qubes OS template for ${opts.name}.`,
      license: opts.license ?? 'GPLv3+',
      url: opts.url ?? 'https://www.qubes-os.org',
      buildtime: opts.buildtime ?? DEFAULT_BUILDTIME,
      files,
      ...(preScript !== undefined ? { preScript } : {}),
      ...(postScript !== undefined ? { postScript } : {}),
      compressor: opts.compressor ?? 'zstd',
      ...(opts.compressionLevel !== undefined ? { compressionLevel: opts.compressionLevel } : {}),
      ...(opts.largeFiles !== undefined ? { largeFiles: opts.largeFiles } : {}),
    };
    const fileName = rpmFileName(spec);
    const written = await writeRpm(spec, {
      outPath: path.join(opts.outDir, fileName),
      ...(opts.signingKey ? { signingKey: opts.signingKey } : {}),
      legacySignature: opts.legacySignature ?? true,
      ...(opts.signatureDate ? { signatureDate: opts.signatureDate } : {}),
      tempDir: work,
      mutations: rpmMutations,
    });
    return {
      ...written,
      packageName,
      fileName,
      parts: parts.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
      tarSize: parts.reduce((n, p) => n + p.size, 0),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
