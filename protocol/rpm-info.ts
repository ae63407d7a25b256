/**
 * The package metadata tmpl uses, read from a main header (which callers verify against a header
 * signature before trusting). Tag meanings: rpm's include/rpm/rpmtag.h and docs/manual/tags.md.
 */
import { ParseError } from './errors.ts';
import { quotedLine } from './display-text.ts';
import type { RpmHeader } from './rpm-header.ts';
import { Tag } from './rpm-tags.ts';
import type { DigestAlgorithm, PackageInfo, PayloadCompressor, RpmFileEntry } from './rpm-types.ts';

/** rpm names digest algorithms with OpenPGP hash algorithm numbers (RFC 4880 9.4). */
const DIGEST_ALGORITHMS: ReadonlyMap<number, DigestAlgorithm> = new Map([
  [1, 'md5'],
  [2, 'sha1'],
  [8, 'sha256'],
  [9, 'sha384'],
  [10, 'sha512'],
  [11, 'sha224'],
]);

/** Hex digits in a digest of each algorithm. */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = {
  md5: 32,
  sha1: 40,
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
};

const COMPRESSORS: ReadonlyMap<string, PayloadCompressor> = new Map([
  ['gzip', 'gzip'],
  ['bzip2', 'bzip2'],
  ['xz', 'xz'],
  ['lzma', 'lzma'],
  ['zstd', 'zstd'],
]);

function at(header: RpmHeader, tag: number): number {
  const e = header.entry(tag);
  return e === undefined ? header.fileOffset : header.dataOffset(e);
}

function required<T>(header: RpmHeader, tag: number, value: T | undefined): T {
  if (value === undefined) {
    throw new ParseError('rpm.info.missing-tag', `main header lacks tag ${tag}`, header.fileOffset);
  }
  return value;
}

function single(header: RpmHeader, tag: number): number | undefined {
  const values = header.numbers(tag);
  if (values === undefined) return undefined;
  if (values.length !== 1) {
    throw new ParseError('rpm.info.tag-count', `tag ${tag} must hold one number`, at(header, tag));
  }
  return values[0];
}

function digestAlgorithm(header: RpmHeader, tag: number, value: number): DigestAlgorithm {
  const algo = DIGEST_ALGORITHMS.get(value);
  if (algo === undefined) {
    throw new ParseError(
      'rpm.digest.unknown',
      `unknown digest algorithm ${value} in tag ${tag}`,
      at(header, tag),
    );
  }
  if (algo === 'md5') {
    throw new ParseError('rpm.digest.md5', `tag ${tag} names MD5, which tmpl refuses`, at(header, tag));
  }
  return algo;
}

function hexDigest(header: RpmHeader, tag: number, value: string, algo: DigestAlgorithm): string {
  const lower = value.toLowerCase();
  if (lower.length !== DIGEST_HEX_LENGTH[algo] || !/^[0-9a-f]*$/.test(lower)) {
    throw new ParseError('rpm.digest.malformed', `tag ${tag}: not a hex ${algo} digest`, at(header, tag));
  }
  return lower;
}

function files(header: RpmHeader, algo: DigestAlgorithm): RpmFileEntry[] {
  if (header.has(Tag.OLDFILENAMES)) {
    throw new ParseError(
      'rpm.info.old-filenames',
      'uncompressed file lists (rpm < 4) are not supported',
      at(header, Tag.OLDFILENAMES),
    );
  }
  const basenames = header.stringArray(Tag.BASENAMES);
  if (basenames === undefined) return [];
  const n = basenames.length;
  const column = <T>(tag: number, values: T[] | undefined): T[] => {
    const v = required(header, tag, values);
    if (v.length !== n) {
      throw new ParseError(
        'rpm.info.file-count',
        `tag ${tag} has ${v.length} entries for ${n} files`,
        at(header, tag),
      );
    }
    return v;
  };
  const dirnames = required(header, Tag.DIRNAMES, header.stringArray(Tag.DIRNAMES));
  const dirindexes = column(Tag.DIRINDEXES, header.numbers(Tag.DIRINDEXES));
  const sizes = header.has(Tag.LONGFILESIZES)
    ? column(Tag.LONGFILESIZES, header.numbers(Tag.LONGFILESIZES))
    : column(Tag.FILESIZES, header.numbers(Tag.FILESIZES));
  const modes = column(Tag.FILEMODES, header.numbers(Tag.FILEMODES));
  const digests = column(Tag.FILEDIGESTS, header.stringArray(Tag.FILEDIGESTS));
  const links = column(Tag.FILELINKTOS, header.stringArray(Tag.FILELINKTOS));
  const flags = column(Tag.FILEFLAGS, header.numbers(Tag.FILEFLAGS));
  return basenames.map((base, i) => {
    const dir = dirnames[dirindexes[i]!];
    if (dir === undefined) {
      throw new ParseError(
        'rpm.info.dir-index',
        `file ${i} names directory ${dirindexes[i]} of ${dirnames.length}`,
        at(header, Tag.DIRINDEXES),
      );
    }
    const digest = digests[i]!;
    return {
      path: dir + base,
      size: sizes[i]!,
      mode: modes[i]!,
      digest: digest === '' ? '' : hexDigest(header, Tag.FILEDIGESTS, digest, algo),
      linkTo: links[i]!,
      flags: flags[i]!,
    };
  });
}

function optionalDigest(header: RpmHeader, tag: number, algo: DigestAlgorithm | null): string | null {
  const values = header.stringArray(tag);
  if (values === undefined) return null;
  if (values.length !== 1 || algo === null) {
    throw new ParseError('rpm.digest.malformed', `tag ${tag} must hold one digest`, at(header, tag));
  }
  return hexDigest(header, tag, values[0]!, algo);
}

/** Reads PackageInfo from a main header; refuses MD5 file digests (FILEDIGESTALGO absent or 1). */
export function packageInfo(header: RpmHeader): PackageInfo {
  const fileAlgoNumber = single(header, Tag.FILEDIGESTALGO);
  if (fileAlgoNumber === undefined) {
    throw new ParseError(
      'rpm.digest.md5',
      'no FILEDIGESTALGO: file digests are MD5, which tmpl refuses',
      header.fileOffset,
    );
  }
  const fileDigestAlgo = digestAlgorithm(header, Tag.FILEDIGESTALGO, fileAlgoNumber);
  const payloadAlgoNumber = single(header, Tag.PAYLOADDIGESTALGO);
  const payloadDigestAlgo =
    payloadAlgoNumber !== undefined
      ? digestAlgorithm(header, Tag.PAYLOADDIGESTALGO, payloadAlgoNumber)
      : header.has(Tag.PAYLOADDIGEST)
        ? 'sha256' // rpm 4.14+ writes PAYLOADDIGESTALGO; without it rpm assumes SHA-256.
        : null;
  const compressorName = header.string(Tag.PAYLOADCOMPRESSOR);
  let payloadCompressor: PayloadCompressor | null = null;
  if (compressorName !== undefined) {
    const c = COMPRESSORS.get(compressorName);
    if (c === undefined) {
      throw new ParseError(
        'rpm.info.payload-compressor',
        `unknown payload compressor ${quotedLine(compressorName)}`,
        at(header, Tag.PAYLOADCOMPRESSOR),
      );
    }
    payloadCompressor = c;
  }
  return {
    name: required(header, Tag.NAME, header.string(Tag.NAME)),
    epoch: single(header, Tag.EPOCH) ?? null,
    version: required(header, Tag.VERSION, header.string(Tag.VERSION)),
    release: required(header, Tag.RELEASE, header.string(Tag.RELEASE)),
    arch: required(header, Tag.ARCH, header.string(Tag.ARCH)),
    buildtime: required(header, Tag.BUILDTIME, single(header, Tag.BUILDTIME)),
    license: header.string(Tag.LICENSE) ?? '',
    url: header.string(Tag.URL) ?? '',
    summary: header.string(Tag.SUMMARY) ?? '',
    description: header.string(Tag.DESCRIPTION) ?? '',
    size: (header.has(Tag.LONGSIZE) ? single(header, Tag.LONGSIZE) : single(header, Tag.SIZE)) ?? 0,
    files: files(header, fileDigestAlgo),
    fileDigestAlgo,
    payloadFormat: header.string(Tag.PAYLOADFORMAT) ?? 'cpio',
    payloadCompressor,
    payloadDigest: optionalDigest(header, Tag.PAYLOADDIGEST, payloadDigestAlgo),
    payloadDigestAlgo,
    payloadDigestAlt: optionalDigest(header, Tag.PAYLOADDIGESTALT, payloadDigestAlgo),
  };
}
