/**
 * The parsed view of an RPM package that both sides use. Produced by the header parser from a
 * main header whose bytes (for trusted use) have been verified against a header signature.
 */

/** Payload compressors rpm writes (PAYLOADCOMPRESSOR, tag 1125), or 'none' for w0.ufdio. */
export type PayloadCompressor = 'gzip' | 'bzip2' | 'xz' | 'lzma' | 'zstd' | 'none';

/** Digest algorithms rpm names with PGP hash algorithm numbers (FILEDIGESTALGO, PAYLOADDIGESTALGO). */
export type DigestAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512' | 'sha224';

export interface RpmFileEntry {
  /** Full path as rpm installs it (DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]), e.g. /var/lib/qubes/vm-templates/x/template.conf. */
  readonly path: string;
  /** FILESIZES or LONGFILESIZES. */
  readonly size: number;
  /** FILEMODES (st_mode, type bits included). */
  readonly mode: number;
  /** FILEDIGESTS entry, lowercase hex; '' for anything that is not a regular file. */
  readonly digest: string;
  /** FILELINKTOS entry ('' unless a symlink). */
  readonly linkTo: string;
  /** FILEFLAGS (RPMFILE_GHOST = 1 << 6 etc.). */
  readonly flags: number;
}

export interface PackageInfo {
  readonly name: string;
  /** EPOCH, or null when the tag is absent (rpm treats absent as 0). */
  readonly epoch: number | null;
  readonly version: string;
  readonly release: string;
  readonly arch: string;
  readonly buildtime: number;
  readonly license: string;
  readonly url: string;
  readonly summary: string;
  readonly description: string;
  /** Installed size (SIZE / LONGSIZE). */
  readonly size: number;
  readonly files: readonly RpmFileEntry[];
  readonly fileDigestAlgo: DigestAlgorithm;
  readonly payloadFormat: string;
  /** From PAYLOADCOMPRESSOR; null when the tag is absent (then the magic bytes decide). */
  readonly payloadCompressor: PayloadCompressor | null;
  /** PAYLOADDIGEST (of the compressed payload), lowercase hex, or null when absent. */
  readonly payloadDigest: string | null;
  readonly payloadDigestAlgo: DigestAlgorithm | null;
  /** PAYLOADDIGESTALT (of the uncompressed payload), lowercase hex, or null when absent. */
  readonly payloadDigestAlt: string | null;
}
