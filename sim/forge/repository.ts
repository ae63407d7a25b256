/**
 * Writes yum/dnf repository metadata for a set of packages, as createrepo_c lays it out:
 * repodata/repomd.xml indexing primary, filelists and other (each named SHA256-TYPE.xml[.EXT]),
 * an optional detached armoured signature repomd.xml.asc (what repo_gpgcheck verifies), and an
 * optional MirrorManager-style repomd.xml.metalink listing mirrors and repomd.xml's digests.
 *
 * Over 300 lines: repomd, primary, filelists, other, the signature and the metalink are written
 * together, each indexing the others.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { readPackage, tagNumbers, tagString, tagStrings, type PackageSummary } from './package-reader.ts';
import { FileFlag, Sense, SigTag, Tag } from './rpm-tags.ts';
import { signDetachedArmored, type SigningKey } from './signing-key.ts';

export type MetadataCompression = 'gz' | 'xz' | 'zst' | 'none';

export interface ForgeRepositoryOptions {
  /** Repository root; repodata/ is (re)written below it. */
  readonly dir: string;
  /** Package files; those outside `dir` are copied into it. */
  readonly packages: readonly string[];
  readonly signingKey?: SigningKey;
  readonly signatureDate?: Date;
  /** repomd <revision> and the metadata timestamps (defaults to now). */
  readonly revision?: number;
  readonly primaryCompression?: MetadataCompression;
  /** Base URLs of the repository on each mirror. */
  readonly metalink?: { readonly mirrors: readonly string[] };
  /**
   * Raw <package> entries appended to primary.xml (and counted in packages="N"), e.g. from
   * hostilePrimaryEntry: what a hostile or careless packager's metadata can hold.
   */
  readonly extraPrimaryEntries?: readonly string[];
}

export interface HostileEntryOptions {
  readonly name: string;
  readonly epoch?: string;
  readonly version?: string;
  readonly release?: string;
  readonly description?: string;
}

/**
 * A well-formed primary.xml package entry with the given (unescaped, possibly rule-breaking)
 * fields; its location names a package that does not exist. Attribute values and text are
 * XML-escaped, so the document stays well-formed whatever they hold.
 */
export function hostilePrimaryEntry(o: HostileEntryOptions): string {
  const href = `${o.name}.noarch.rpm`;
  return [
    '<package type="rpm">',
    `  <name>${xml(o.name)}</name>`,
    '  <arch>noarch</arch>',
    `  <version epoch="${xml(o.epoch ?? '0')}" ver="${xml(o.version ?? '1.0')}" rel="${xml(o.release ?? '1')}"/>`,
    `  <checksum type="sha256" pkgid="YES">${'0'.repeat(64)}</checksum>`,
    '  <summary>A hostile entry</summary>',
    `  <description>${xml(o.description ?? 'A hostile entry.')}</description>`,
    '  <packager></packager>',
    '  <url></url>',
    '  <time file="1767225600" build="1767225600"/>',
    '  <size package="1024" installed="0" archive="0"/>',
    `  <location href="${xml(href)}"/>`,
    '  <format>',
    '    <rpm:license>GPL-2.0-or-later</rpm:license>',
    '  </format>',
    '</package>',
  ].join('\n');
}

export interface ForgedRepository {
  readonly repomdPath: string;
  readonly signaturePath: string | null;
  readonly metalinkPath: string | null;
  /** Location hrefs of the packages, relative to dir. */
  readonly packages: readonly string[];
}

const encoder = new TextEncoder();

function xml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function compressMetadata(kind: MetadataCompression, bytes: Uint8Array): Promise<Uint8Array> {
  if (kind === 'gz') return gzipSync(bytes);
  if (kind === 'zst') return zstdCompress(bytes);
  if (kind === 'none') return bytes;
  // lzma-native ships no type declarations; this is the part of its API used here.
  const lzma = createRequire(import.meta.url)('lzma-native') as {
    compress(data: Buffer, options: { preset: number }): Promise<Buffer>;
  };
  return new Uint8Array(await lzma.compress(Buffer.from(bytes), { preset: 6 }));
}

const EXTENSION: Record<MetadataCompression, string> = { gz: '.gz', xz: '.xz', zst: '.zst', none: '' };

const FLAG_NAMES: [number, string][] = [
  [Sense.LESS | Sense.EQUAL, 'LE'],
  [Sense.GREATER | Sense.EQUAL, 'GE'],
  [Sense.LESS, 'LT'],
  [Sense.GREATER, 'GT'],
  [Sense.EQUAL, 'EQ'],
];

function dependencyEntry(name: string, flags: number, evr: string): string {
  const sense = flags & (Sense.LESS | Sense.GREATER | Sense.EQUAL);
  const flagName = FLAG_NAMES.find(([bits]) => bits === sense)?.[1];
  if (!flagName || evr === '') return `<rpm:entry name="${xml(name)}"/>`;
  const m = /^(?:(\d+):)?([^-]*)(?:-(.*))?$/.exec(evr);
  const attrs = [`epoch="${m?.[1] ?? '0'}"`, `ver="${xml(m?.[2] ?? evr)}"`];
  if (m?.[3] !== undefined) attrs.push(`rel="${xml(m[3])}"`);
  return `<rpm:entry name="${xml(name)}" flags="${flagName}" ${attrs.join(' ')}/>`;
}

type ListedFileType = 'file' | 'dir' | 'ghost';

function fileType(flags: number, mode: number): ListedFileType {
  if (flags & FileFlag.GHOST) return 'ghost';
  return (mode & 0o170000) === 0o040000 ? 'dir' : 'file';
}

interface PackageMeta {
  readonly pkg: PackageSummary;
  readonly href: string;
  readonly name: string;
  readonly arch: string;
  readonly versionXml: string;
  readonly files: { path: string; type: ListedFileType }[];
}

function describe(pkg: PackageSummary, href: string): PackageMeta {
  const h = pkg.header;
  const epoch = tagNumbers(h, Tag.EPOCH)[0] ?? 0;
  const versionXml = `<version epoch="${epoch}" ver="${xml(tagString(h, Tag.VERSION) ?? '')}" rel="${xml(tagString(h, Tag.RELEASE) ?? '')}"/>`;
  const dirnames = tagStrings(h, Tag.DIRNAMES);
  const dirIndexes = tagNumbers(h, Tag.DIRINDEXES);
  const modes = tagNumbers(h, Tag.FILEMODES);
  const flags = tagNumbers(h, Tag.FILEFLAGS);
  const files = tagStrings(h, Tag.BASENAMES).map((base, i) => ({
    path: `${dirnames[dirIndexes[i] ?? 0] ?? ''}${base}`,
    type: fileType(flags[i] ?? 0, modes[i] ?? 0),
  }));
  return {
    pkg,
    href,
    name: tagString(h, Tag.NAME) ?? '',
    arch: tagString(h, Tag.ARCH) ?? 'noarch',
    versionXml,
    files,
  };
}

function primaryPackage(p: PackageMeta): string {
  const h = p.pkg.header;
  const s = p.pkg.signature;
  const installed = tagNumbers(h, Tag.LONGSIZE)[0] ?? tagNumbers(h, Tag.SIZE)[0] ?? 0;
  const archive = tagNumbers(s, SigTag.LONGARCHIVESIZE)[0] ?? tagNumbers(s, SigTag.PAYLOADSIZE)[0] ?? 0;
  const provides = tagStrings(h, Tag.PROVIDENAME).map((n, i) =>
    dependencyEntry(n, tagNumbers(h, Tag.PROVIDEFLAGS)[i] ?? 0, tagStrings(h, Tag.PROVIDEVERSION)[i] ?? ''),
  );
  const requires = tagStrings(h, Tag.REQUIRENAME)
    .map((n, i) => ({
      n,
      f: tagNumbers(h, Tag.REQUIREFLAGS)[i] ?? 0,
      v: tagStrings(h, Tag.REQUIREVERSION)[i] ?? '',
    }))
    .filter((r) => !r.n.startsWith('rpmlib('))
    .map((r) => dependencyEntry(r.n, r.f, r.v));
  return [
    '<package type="rpm">',
    `  <name>${xml(p.name)}</name>`,
    `  <arch>${xml(p.arch)}</arch>`,
    `  ${p.versionXml}`,
    `  <checksum type="sha256" pkgid="YES">${p.pkg.sha256}</checksum>`,
    `  <summary>${xml(tagString(h, Tag.SUMMARY) ?? '')}</summary>`,
    `  <description>${xml(tagString(h, Tag.DESCRIPTION) ?? '')}</description>`,
    '  <packager></packager>',
    `  <url>${xml(tagString(h, Tag.URL) ?? '')}</url>`,
    `  <time file="${p.pkg.mtime}" build="${tagNumbers(h, Tag.BUILDTIME)[0] ?? 0}"/>`,
    `  <size package="${p.pkg.fileSize}" installed="${installed}" archive="${archive}"/>`,
    `  <location href="${xml(p.href)}"/>`,
    '  <format>',
    `    <rpm:license>${xml(tagString(h, Tag.LICENSE) ?? '')}</rpm:license>`,
    '    <rpm:vendor></rpm:vendor>',
    `    <rpm:group>${xml(tagString(h, Tag.GROUP) ?? '')}</rpm:group>`,
    `    <rpm:buildhost>${xml(tagString(h, Tag.BUILDHOST) ?? '')}</rpm:buildhost>`,
    `    <rpm:sourcerpm>${xml(tagString(h, Tag.SOURCERPM) ?? '')}</rpm:sourcerpm>`,
    `    <rpm:header-range start="${h.start}" end="${h.end}"/>`,
    ...(provides.length
      ? ['    <rpm:provides>', ...provides.map((e) => `      ${e}`), '    </rpm:provides>']
      : []),
    ...(requires.length
      ? ['    <rpm:requires>', ...requires.map((e) => `      ${e}`), '    </rpm:requires>']
      : []),
    '  </format>',
    '</package>',
  ].join('\n');
}

function documents(
  metas: PackageMeta[],
  extraPrimary: readonly string[],
): Record<'primary' | 'filelists' | 'other', string> {
  const head = '<?xml version="1.0" encoding="UTF-8"?>\n';
  const n = metas.length;
  return {
    primary:
      head +
      `<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${n + extraPrimary.length}">\n` +
      [...metas.map(primaryPackage), ...extraPrimary].join('\n') +
      '\n</metadata>\n',
    filelists:
      head +
      `<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${n}">\n` +
      metas
        .map(
          (p) =>
            `<package pkgid="${p.pkg.sha256}" name="${xml(p.name)}" arch="${xml(p.arch)}">\n  ${p.versionXml}\n` +
            p.files
              .map((f) => `  <file${f.type === 'file' ? '' : ` type="${f.type}"`}>${xml(f.path)}</file>\n`)
              .join('') +
            '</package>',
        )
        .join('\n') +
      '\n</filelists>\n',
    other:
      head +
      `<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="${n}">\n` +
      metas
        .map(
          (p) =>
            `<package pkgid="${p.pkg.sha256}" name="${xml(p.name)}" arch="${xml(p.arch)}">\n  ${p.versionXml}\n</package>`,
        )
        .join('\n') +
      '\n</otherdata>\n',
  };
}

function metalinkDocument(repomd: Uint8Array, timestamp: number, mirrors: readonly string[]): string {
  const hash = (alg: string): string => createHash(alg).update(repomd).digest('hex');
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" generator="tmpl-forge" xmlns:mm0="http://fedorahosted.org/mirrormanager">',
    ' <files>',
    '  <file name="repomd.xml">',
    `   <mm0:timestamp>${timestamp}</mm0:timestamp>`,
    `   <size>${repomd.length}</size>`,
    '   <verification>',
    ...['md5', 'sha1', 'sha256', 'sha512'].map((a) => `    <hash type="${a}">${hash(a)}</hash>`),
    '   </verification>',
    `   <resources maxconnections="1">`,
    ...mirrors.map((m, i) => {
      const url = `${m.replace(/\/+$/, '')}/repodata/repomd.xml`;
      const protocol = new URL(url).protocol.replace(':', '');
      return `    <url protocol="${protocol}" type="${protocol}" location="XX" preference="${100 - i}">${xml(url)}</url>`;
    }),
    '   </resources>',
    '  </file>',
    ' </files>',
    '</metalink>',
    '',
  ].join('\n');
}

/** Writes repodata/ for `packages` in `dir`. */
export async function forgeRepository(opts: ForgeRepositoryOptions): Promise<ForgedRepository> {
  const dir = path.resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const metas: PackageMeta[] = [];
  for (const file of opts.packages) {
    let full = path.resolve(file);
    let href = path.relative(dir, full);
    if (href.startsWith('..') || path.isAbsolute(href)) {
      href = path.basename(full);
      await copyFile(full, path.join(dir, href));
      full = path.join(dir, href);
    }
    metas.push(describe(await readPackage(full), href.split(path.sep).join('/')));
  }
  const repodata = path.join(dir, 'repodata');
  await mkdir(repodata, { recursive: true });
  for (const old of await readdir(repodata)) await rm(path.join(repodata, old), { force: true });

  const timestamp = opts.revision ?? Math.floor(Date.now() / 1000);
  const docs = documents(metas, opts.extraPrimaryEntries ?? []);
  const records: string[] = [];
  for (const type of ['primary', 'filelists', 'other'] as const) {
    const kind: MetadataCompression = type === 'primary' ? (opts.primaryCompression ?? 'gz') : 'gz';
    const open = encoder.encode(docs[type]);
    const stored = await compressMetadata(kind, open);
    const digest = sha256(stored);
    const href = `repodata/${digest}-${type}.xml${EXTENSION[kind]}`;
    await writeFile(path.join(dir, href), stored);
    records.push(
      [
        `  <data type="${type}">`,
        `    <checksum type="sha256">${digest}</checksum>`,
        `    <open-checksum type="sha256">${sha256(open)}</open-checksum>`,
        `    <location href="${href}"/>`,
        `    <timestamp>${timestamp}</timestamp>`,
        `    <size>${stored.length}</size>`,
        `    <open-size>${open.length}</open-size>`,
        '  </data>',
      ].join('\n'),
    );
  }
  const repomd = encoder.encode(
    [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">',
      `  <revision>${timestamp}</revision>`,
      ...records,
      '</repomd>',
      '',
    ].join('\n'),
  );
  const repomdPath = path.join(repodata, 'repomd.xml');
  await writeFile(repomdPath, repomd);
  let signaturePath: string | null = null;
  if (opts.signingKey) {
    signaturePath = `${repomdPath}.asc`;
    await writeFile(signaturePath, await signDetachedArmored(opts.signingKey, repomd, opts.signatureDate));
  }
  let metalinkPath: string | null = null;
  if (opts.metalink) {
    metalinkPath = `${repomdPath}.metalink`;
    await writeFile(metalinkPath, metalinkDocument(repomd, timestamp, opts.metalink.mirrors));
  }
  return { repomdPath, signaturePath, metalinkPath, packages: metas.map((m) => m.href) };
}
