/**
 * Writes a binary RPM v4 package (docs/manual/format_v4.md): the 96-byte lead, the signature
 * header (region 62) padded to 8 bytes, the main header (region 63) and the compressed cpio
 * payload.
 *
 * Memory stays bounded whatever the payload size: the payload is streamed once through the cpio
 * writer and the compressor into a temp file while its digests are computed (the main header,
 * which precedes the payload, carries PAYLOADDIGEST), then copied after the headers while the
 * MD5 over header+payload is computed, and the signature header, whose size does not depend on
 * the MD5 value, is rewritten in place.
 *
 * Over 300 lines: the lead, both headers, the payload and the in-place signature rewrite share the
 * layout offsets and the streamed digests.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpioArchive, type CpioEntry } from './cpio-writer.ts';
import { ForgeError } from './errors.ts';
import { encodeHeader, h, type HeaderEntry } from './header-writer.ts';
import { COMPRESSORS, compressStream, type ForgeCompressor } from './payload-compressor.ts';
import {
  FileFlag,
  LARGE_FILE_THRESHOLD,
  PGPHASHALGO_SHA256,
  Sense,
  SigTag,
  Tag,
  TAG_HEADERI18NTABLE,
  TAG_HEADERIMMUTABLE,
  TAG_HEADERSIGNATURES,
} from './rpm-tags.ts';
import { isRsaKey, signDetachedBinary, signDetachedStream, type SigningKey } from './signing-key.ts';

export type RpmFileKind = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo';

/** File content produced on demand, with its size and SHA-256 known beforehand. */
export interface StreamedContent {
  readonly size: number;
  /** Lowercase hex SHA-256 of the content. */
  readonly sha256: string;
  open(): AsyncIterable<Uint8Array>;
}

export interface RpmFileSpec {
  /** Absolute install path. */
  readonly path: string;
  readonly kind: RpmFileKind;
  /** Permission bits; defaults 0644 files and FIFOs, 0755 dirs, 0777 symlinks, 0600 devices. */
  readonly perms?: number;
  readonly content?: Uint8Array | string | StreamedContent;
  readonly linkTo?: string;
  readonly rdev?: { readonly major: number; readonly minor: number };
  /** %ghost: listed in the header, absent from the payload. */
  readonly ghost?: boolean;
  readonly mtime?: number;
  /** Owner names (FILEUSERNAME / FILEGROUPNAME); default root. */
  readonly user?: string;
  readonly group?: string;
}

export interface RpmPackageSpec {
  readonly name: string;
  readonly epoch?: number;
  readonly version: string;
  readonly release: string;
  readonly arch?: string;
  readonly summary: string;
  readonly description: string;
  readonly license: string;
  readonly group?: string;
  readonly url?: string;
  readonly buildtime: number;
  readonly buildhost?: string;
  readonly files: readonly RpmFileSpec[];
  /** %pre and %post bodies, run by /bin/sh. */
  readonly preScript?: string;
  readonly postScript?: string;
  readonly compressor: ForgeCompressor;
  readonly compressionLevel?: number;
  /**
   * 'auto' (rpm's rule): LONGFILESIZES and the stripped cpio layout only when a file reaches
   * 4 GiB; 'always' uses them for any size, which rpm reads the same way.
   */
  readonly largeFiles?: 'auto' | 'always';
}

/** A raw cpio entry added to the payload only (not in the header's file list). */
export interface ExtraCpioEntry {
  /** Name exactly as written into the archive, e.g. "./../../etc/cron.d/x". */
  readonly name: string;
  readonly kind: RpmFileKind;
  readonly perms?: number;
  readonly content?: Uint8Array | string;
  readonly linkTo?: string;
  readonly rdev?: { readonly major: number; readonly minor: number };
}

/** Deliberate inconsistencies for security tests; each names one lie the package tells. */
export interface RpmMutations {
  /** NAME tag value differing from spec.name (file name and provides keep spec.name). */
  readonly headerName?: string;
  /** Payload bytes for these paths differ from what the header's FILEDIGESTS describe. */
  readonly payloadContent?: Readonly<Record<string, StreamedContent>>;
  /** Entries in the payload that the header does not list. */
  readonly extraCpioEntries?: readonly ExtraCpioEntry[];
  /** Sizes declared in the header, not matching the payload. */
  readonly declaredInstalledSize?: number;
  readonly declaredFileSizes?: Readonly<Record<string, number>>;
  /** PAYLOADDIGEST value instead of the real SHA-256 of the compressed payload. */
  readonly payloadDigest?: string;
  /** PAYLOADCOMPRESSOR value instead of the compressor's own (the payload is unchanged). */
  readonly payloadCompressor?: string;
}

export interface WriteRpmOptions {
  readonly outPath: string;
  readonly signingKey?: SigningKey;
  /**
   * Also sign header+payload (RPMSIGTAG_PGP/GPG), as `rpmsign --rpmv3` and the Qubes builder do.
   * Costs one more read of the payload.
   */
  readonly legacySignature?: boolean;
  /** Signature creation time (defaults to now). */
  readonly signatureDate?: Date;
  /** Where the payload temp file goes (defaults to the OS temp dir). */
  readonly tempDir?: string;
  readonly mutations?: RpmMutations;
}

export interface WrittenRpm {
  readonly path: string;
  readonly size: number;
  /** Byte range of the main header in the file (for repodata's rpm:header-range). */
  readonly headerStart: number;
  readonly headerEnd: number;
  readonly payloadSha256: string;
  readonly payloadSize: number;
  readonly archiveSize: number;
  readonly installedSize: number;
}

const LEAD_SIZE = 96;
const LEAD_NAME_SIZE = 66;
/** rpm writes the lead's signature type as RPMSIGTYPE_HEADERSIG. */
const RPMSIGTYPE_HEADERSIG = 5;
/** Room rpm leaves in the signature header so signing can happen in place (RESERVEDSPACE). */
const SIGNATURE_RESERVED_SPACE = 4096;
/** rpm records directories with their st_size, 4096 on common filesystems. */
const DIRECTORY_SIZE = 4096;
const RPM_VERSION = '4.18.0';
const FILEVERIFY_ALL = 0xffffffff;

const MODE_TYPE: Record<RpmFileKind, number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  chardev: 0o020000,
  blockdev: 0o060000,
  fifo: 0o010000,
};
const DEFAULT_PERMS: Record<RpmFileKind, number> = {
  file: 0o644,
  dir: 0o755,
  symlink: 0o777,
  chardev: 0o600,
  blockdev: 0o600,
  fifo: 0o644,
};

const encoder = new TextEncoder();

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Turns any content form into a StreamedContent. */
export function bytesContent(content: Uint8Array | string): StreamedContent {
  const bytes = typeof content === 'string' ? encoder.encode(content) : content;
  return {
    size: bytes.length,
    sha256: sha256Hex(bytes),
    // eslint-disable-next-line @typescript-eslint/require-await
    open: async function* () {
      yield bytes;
    },
  };
}

interface NormalizedFile {
  readonly spec: RpmFileSpec;
  readonly mode: number;
  readonly size: number;
  readonly digest: string;
  readonly content: StreamedContent | null;
  readonly rdev: number;
}

function normalize(spec: RpmFileSpec): NormalizedFile {
  if (!spec.path.startsWith('/') || spec.path.endsWith('/')) {
    throw new ForgeError(
      'forge.bad-option',
      `file path must be absolute, without a trailing slash: ${spec.path}`,
    );
  }
  const mode = MODE_TYPE[spec.kind] | (spec.perms ?? DEFAULT_PERMS[spec.kind]);
  const rdev = spec.rdev ? ((spec.rdev.major & 0xff) << 8) | (spec.rdev.minor & 0xff) : 0;
  if (spec.ghost) return { spec, mode, size: 0, digest: '', content: null, rdev };
  switch (spec.kind) {
    case 'file': {
      const raw = spec.content ?? new Uint8Array(0);
      const content = typeof raw === 'string' || raw instanceof Uint8Array ? bytesContent(raw) : raw;
      return { spec, mode, size: content.size, digest: content.sha256, content, rdev };
    }
    case 'symlink': {
      if (!spec.linkTo) throw new ForgeError('forge.bad-option', `symlink ${spec.path} needs linkTo`);
      return {
        spec,
        mode,
        size: encoder.encode(spec.linkTo).length,
        digest: '',
        content: bytesContent(spec.linkTo),
        rdev,
      };
    }
    case 'dir':
      return { spec, mode, size: DIRECTORY_SIZE, digest: '', content: null, rdev };
    default:
      return { spec, mode, size: 0, digest: '', content: null, rdev };
  }
}

function splitPath(p: string): [string, string] {
  const cut = p.lastIndexOf('/');
  return [p.slice(0, cut + 1), p.slice(cut + 1)];
}

function evr(spec: RpmPackageSpec): string {
  return `${spec.epoch !== undefined ? `${spec.epoch}:` : ''}${spec.version}-${spec.release}`;
}

/** The standard file name rpm gives the package: NAME-VERSION-RELEASE.ARCH.rpm. */
export function rpmFileName(spec: Pick<RpmPackageSpec, 'name' | 'version' | 'release' | 'arch'>): string {
  return `${spec.name}-${spec.version}-${spec.release}.${spec.arch ?? 'noarch'}.rpm`;
}

function lead(spec: RpmPackageSpec): Uint8Array {
  const out = new Uint8Array(LEAD_SIZE);
  const view = new DataView(out.buffer);
  out.set([0xed, 0xab, 0xee, 0xdb, 3, 0], 0);
  view.setUint16(6, 0); // binary package
  view.setUint16(8, 1); // archnum: rpm writes the build host's, unused on read
  const name = encoder.encode(`${spec.name}-${evr(spec)}`).subarray(0, LEAD_NAME_SIZE - 1);
  out.set(name, 10);
  view.setUint16(76, 1); // osnum: Linux
  view.setUint16(78, RPMSIGTYPE_HEADERSIG);
  return out;
}

async function* tap(
  source: AsyncIterable<Uint8Array>,
  hash: Hash,
  count: { n: number },
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    hash.update(chunk);
    count.n += chunk.length;
    yield chunk;
  }
}

interface PayloadResult {
  readonly tempFile: string;
  readonly compressedSha256: string;
  readonly compressedSize: number;
  readonly archiveSha256: string;
  readonly archiveSize: number;
}

async function writePayload(
  entries: CpioEntry[],
  compressor: ForgeCompressor,
  level: number,
  tempFile: string,
): Promise<PayloadResult> {
  const archiveHash = createHash('sha256');
  const archiveCount = { n: 0 };
  const compressedHash = createHash('sha256');
  const compressedCount = { n: 0 };
  const stream = tap(
    compressStream(compressor, level, tap(cpioArchive(entries), archiveHash, archiveCount)),
    compressedHash,
    compressedCount,
  );
  const handle = await open(tempFile, 'w');
  try {
    for await (const chunk of stream) await handle.write(chunk);
  } finally {
    await handle.close();
  }
  return {
    tempFile,
    compressedSha256: compressedHash.digest('hex'),
    compressedSize: compressedCount.n,
    archiveSha256: archiveHash.digest('hex'),
    archiveSize: archiveCount.n,
  };
}

function buildCpioEntries(files: NormalizedFile[], stripped: boolean, m: RpmMutations): CpioEntry[] {
  const entries: CpioEntry[] = [];
  files.forEach((f, index) => {
    if (f.spec.ghost) return;
    const override = m.payloadContent?.[f.spec.path];
    const content = override ?? f.content;
    entries.push({
      name: `.${f.spec.path}`,
      mode: f.mode,
      size: f.spec.kind === 'dir' ? 0 : (content?.size ?? 0),
      mtime: f.spec.mtime ?? 0,
      ino: index + 1,
      nlink: f.spec.kind === 'dir' ? 2 : 1,
      rdevMajor: f.spec.rdev?.major ?? 0,
      rdevMinor: f.spec.rdev?.minor ?? 0,
      fileIndex: index,
      stripped,
      ...(content && f.spec.kind !== 'dir' ? { content: () => content.open() } : {}),
    });
  });
  for (const extra of m.extraCpioEntries ?? []) {
    const body =
      extra.kind === 'symlink'
        ? bytesContent(extra.linkTo ?? '')
        : extra.kind === 'file'
          ? bytesContent(extra.content ?? '')
          : null;
    entries.push({
      name: extra.name,
      mode: MODE_TYPE[extra.kind] | (extra.perms ?? DEFAULT_PERMS[extra.kind]),
      size: body?.size ?? 0,
      mtime: 0,
      ino: files.length + entries.length + 1,
      rdevMajor: extra.rdev?.major ?? 0,
      rdevMinor: extra.rdev?.minor ?? 0,
      fileIndex: files.length + entries.length,
      ...(body ? { content: () => body.open() } : {}),
    });
  }
  return entries;
}

function mainHeader(
  spec: RpmPackageSpec,
  files: NormalizedFile[],
  large: boolean,
  payload: PayloadResult,
  m: RpmMutations,
): Uint8Array {
  const info = COMPRESSORS[spec.compressor];
  const level = spec.compressionLevel ?? info.defaultLevel;
  const declaredSizes = files.map((f) => m.declaredFileSizes?.[f.spec.path] ?? f.size);
  const installedSize =
    m.declaredInstalledSize ?? declaredSizes.reduce((n, s, i) => (files[i]!.spec.ghost ? n : n + s), 0);

  const requires: [string, number, string][] = [];
  if (spec.preScript !== undefined) requires.push(['/bin/sh', Sense.INTERP | Sense.SCRIPT_PRE, '']);
  if (spec.postScript !== undefined) requires.push(['/bin/sh', Sense.INTERP | Sense.SCRIPT_POST, '']);
  const rpmlib: [string, string][] = [];
  if (files.length > 0) {
    rpmlib.push(['rpmlib(CompressedFileNames)', '3.0.4-1'], ['rpmlib(FileDigests)', '4.6.0-1']);
  }
  if (large) rpmlib.push(['rpmlib(LargeFiles)', '4.12.0-1']);
  rpmlib.push(['rpmlib(PayloadFilesHavePrefix)', '4.0-1']);
  if (info.rpmlib) rpmlib.push([info.rpmlib[0], info.rpmlib[1]]);
  rpmlib.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [name, version] of rpmlib)
    requires.push([name, Sense.RPMLIB | Sense.LESS | Sense.EQUAL, version]);

  const entries: HeaderEntry[] = [
    h.strings(TAG_HEADERI18NTABLE, ['C']),
    h.string(Tag.NAME, m.headerName ?? spec.name),
    h.string(Tag.VERSION, spec.version),
    h.string(Tag.RELEASE, spec.release),
    h.i18n(Tag.SUMMARY, spec.summary),
    h.i18n(Tag.DESCRIPTION, spec.description),
    h.int32(Tag.BUILDTIME, [spec.buildtime]),
    h.string(Tag.BUILDHOST, spec.buildhost ?? 'forge.invalid'),
    installedSize >= LARGE_FILE_THRESHOLD
      ? h.int64(Tag.LONGSIZE, [installedSize])
      : h.int32(Tag.SIZE, [installedSize]),
    h.string(Tag.LICENSE, spec.license),
    h.i18n(Tag.GROUP, spec.group ?? 'Unspecified'),
    h.string(Tag.OS, 'linux'),
    h.string(Tag.ARCH, spec.arch ?? 'noarch'),
    h.string(Tag.SOURCERPM, `${spec.name}-${spec.version}-${spec.release}.src.rpm`),
    h.strings(Tag.PROVIDENAME, [spec.name]),
    h.int32(Tag.PROVIDEFLAGS, [Sense.EQUAL]),
    h.strings(Tag.PROVIDEVERSION, [evr(spec)]),
    h.strings(
      Tag.REQUIRENAME,
      requires.map((r) => r[0]),
    ),
    h.int32(
      Tag.REQUIREFLAGS,
      requires.map((r) => r[1]),
    ),
    h.strings(
      Tag.REQUIREVERSION,
      requires.map((r) => r[2]),
    ),
    h.string(Tag.RPMVERSION, RPM_VERSION),
    h.string(Tag.PAYLOADFORMAT, 'cpio'),
    h.string(Tag.PAYLOADFLAGS, String(level)),
    h.string(Tag.PLATFORM, `${spec.arch ?? 'noarch'}-unknown-linux`),
    h.string(Tag.ENCODING, 'utf-8'),
    h.strings(Tag.PAYLOADDIGEST, [m.payloadDigest ?? payload.compressedSha256]),
    h.int32(Tag.PAYLOADDIGESTALGO, [PGPHASHALGO_SHA256]),
    h.strings(Tag.PAYLOADDIGESTALT, [payload.archiveSha256]),
  ];
  if (spec.epoch !== undefined) entries.push(h.int32(Tag.EPOCH, [spec.epoch]));
  if (spec.url !== undefined) entries.push(h.string(Tag.URL, spec.url));
  const compressorTag = m.payloadCompressor ?? info.tagValue;
  if (compressorTag !== null) entries.push(h.string(Tag.PAYLOADCOMPRESSOR, compressorTag));
  if (spec.preScript !== undefined) {
    entries.push(h.string(Tag.PREIN, spec.preScript), h.string(Tag.PREINPROG, '/bin/sh'));
  }
  if (spec.postScript !== undefined) {
    entries.push(h.string(Tag.POSTIN, spec.postScript), h.string(Tag.POSTINPROG, '/bin/sh'));
  }
  if (files.length > 0) {
    const dirnames: string[] = [];
    const dirIndexes: number[] = [];
    const basenames: string[] = [];
    for (const f of files) {
      const [dir, base] = splitPath(f.spec.path);
      let at = dirnames.indexOf(dir);
      if (at < 0) at = dirnames.push(dir) - 1;
      dirIndexes.push(at);
      basenames.push(base);
    }
    entries.push(
      large ? h.int64(Tag.LONGFILESIZES, declaredSizes) : h.int32(Tag.FILESIZES, declaredSizes),
      h.int16(
        Tag.FILEMODES,
        files.map((f) => f.mode),
      ),
      h.int16(
        Tag.FILERDEVS,
        files.map((f) => f.rdev),
      ),
      h.int32(
        Tag.FILEMTIMES,
        files.map((f) => f.spec.mtime ?? 0),
      ),
      h.strings(
        Tag.FILEDIGESTS,
        files.map((f) => f.digest),
      ),
      h.strings(
        Tag.FILELINKTOS,
        files.map((f) => (f.spec.kind === 'symlink' ? (f.spec.linkTo ?? '') : '')),
      ),
      h.int32(
        Tag.FILEFLAGS,
        files.map((f) => (f.spec.ghost ? FileFlag.GHOST : 0)),
      ),
      h.strings(
        Tag.FILEUSERNAME,
        files.map((f) => f.spec.user ?? 'root'),
      ),
      h.strings(
        Tag.FILEGROUPNAME,
        files.map((f) => f.spec.group ?? 'root'),
      ),
      h.int32(
        Tag.FILEVERIFYFLAGS,
        files.map(() => FILEVERIFY_ALL),
      ),
      h.int32(
        Tag.FILEDEVICES,
        files.map(() => 1),
      ),
      h.int32(
        Tag.FILEINODES,
        files.map((_, i) => i + 1),
      ),
      h.strings(
        Tag.FILELANGS,
        files.map(() => ''),
      ),
      h.int32(Tag.DIRINDEXES, dirIndexes),
      h.strings(Tag.BASENAMES, basenames),
      h.strings(Tag.DIRNAMES, dirnames),
      h.int32(Tag.FILEDIGESTALGO, [PGPHASHALGO_SHA256]),
    );
  }
  return encodeHeader(TAG_HEADERIMMUTABLE, entries);
}

interface Signatures {
  /** Header-only signature (RSAHEADER / DSAHEADER). */
  readonly header: Uint8Array | null;
  /** Header+payload signature (PGP / GPG). */
  readonly legacy: Uint8Array | null;
  readonly rsa: boolean;
}

function signatureHeader(
  header: Uint8Array,
  totalSize: number,
  md5: Uint8Array,
  archiveSize: number,
  sigs: Signatures,
): Uint8Array {
  const signed = (sigs.header?.length ?? 0) + (sigs.legacy?.length ?? 0);
  const entries: HeaderEntry[] = [
    h.string(SigTag.SHA1HEADER, createHash('sha1').update(header).digest('hex')),
    h.string(SigTag.SHA256HEADER, sha256Hex(header)),
    totalSize >= LARGE_FILE_THRESHOLD
      ? h.int64(SigTag.LONGSIZE, [totalSize])
      : h.int32(SigTag.SIZE, [totalSize]),
    h.bin(SigTag.MD5, md5),
    archiveSize >= LARGE_FILE_THRESHOLD
      ? h.int64(SigTag.LONGARCHIVESIZE, [archiveSize])
      : h.int32(SigTag.PAYLOADSIZE, [archiveSize]),
    h.bin(SigTag.RESERVEDSPACE, new Uint8Array(Math.max(0, SIGNATURE_RESERVED_SPACE - signed))),
  ];
  if (sigs.header) entries.push(h.bin(sigs.rsa ? SigTag.RSAHEADER : SigTag.DSAHEADER, sigs.header));
  if (sigs.legacy) entries.push(h.bin(sigs.rsa ? SigTag.PGP : SigTag.GPG, sigs.legacy));
  const encoded = encodeHeader(TAG_HEADERSIGNATURES, entries);
  // The signature header is padded to a multiple of 8 bytes (format_v4.md); the padding is not
  // part of the header's data length.
  const padded = new Uint8Array(Math.ceil(encoded.length / 8) * 8);
  padded.set(encoded);
  return padded;
}

/** Writes one package; see the module comment for the two passes. */
export async function writeRpm(spec: RpmPackageSpec, options: WriteRpmOptions): Promise<WrittenRpm> {
  const m = options.mutations ?? {};
  const files = [...spec.files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map(normalize);
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.spec.path === files[i - 1]!.spec.path) {
      throw new ForgeError('forge.bad-option', `duplicate file ${files[i]!.spec.path}`);
    }
  }
  const declared = files.map((f) => m.declaredFileSizes?.[f.spec.path] ?? f.size);
  const large = spec.largeFiles === 'always' || declared.some((s) => s >= LARGE_FILE_THRESHOLD);
  const level = spec.compressionLevel ?? COMPRESSORS[spec.compressor].defaultLevel;

  const work = await mkdtemp(path.join(options.tempDir ?? tmpdir(), 'tmpl-forge-'));
  try {
    const payload = await writePayload(
      buildCpioEntries(files, large, m),
      spec.compressor,
      level,
      path.join(work, 'payload'),
    );
    const header = mainHeader(spec, files, large, payload, m);
    const key = options.signingKey;
    const totalSize = header.length + payload.compressedSize;
    const headerAndPayload = async function* (): AsyncGenerator<Uint8Array> {
      yield header;
      yield* createReadStream(payload.tempFile) as AsyncIterable<Uint8Array>;
    };
    const sigs: Signatures = {
      header: key ? await signDetachedBinary(key, header, options.signatureDate) : null,
      legacy:
        key && options.legacySignature
          ? await signDetachedStream(key, headerAndPayload(), options.signatureDate)
          : null,
      rsa: key ? isRsaKey(key) : true,
    };
    // The signature header's size does not depend on the MD5 value: write a placeholder, copy
    // the payload while hashing, then rewrite it in place.
    const placeholder = signatureHeader(header, totalSize, new Uint8Array(16), payload.archiveSize, sigs);

    const out = await open(options.outPath, 'w');
    try {
      await out.write(lead(spec), 0, LEAD_SIZE, 0);
      let at = LEAD_SIZE + placeholder.length;
      const headerStart = at;
      await out.write(header, 0, header.length, at);
      at += header.length;
      const md5 = createHash('md5').update(header);
      for await (const chunk of createReadStream(payload.tempFile) as AsyncIterable<Buffer>) {
        md5.update(chunk);
        await out.write(chunk, 0, chunk.length, at);
        at += chunk.length;
      }
      const sig = signatureHeader(header, totalSize, md5.digest(), payload.archiveSize, sigs);
      if (sig.length !== placeholder.length) throw new Error('signature header size changed');
      await out.write(sig, 0, sig.length, LEAD_SIZE);
      await out.truncate(at);
      const installedSize =
        m.declaredInstalledSize ?? declared.reduce((n, s, i) => (files[i]!.spec.ghost ? n : n + s), 0);
      return {
        path: options.outPath,
        size: (await stat(options.outPath)).size,
        headerStart,
        headerEnd: headerStart + header.length,
        payloadSha256: payload.compressedSha256,
        payloadSize: payload.compressedSize,
        archiveSize: payload.archiveSize,
        installedSize,
      };
    } finally {
      await out.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
