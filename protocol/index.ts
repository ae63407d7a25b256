export { TmplError, ParseError, VerificationError, type ErrorCode } from './errors.ts';
export { displayLine, quotedLine, MAX_DISPLAY_LINE_LENGTH, TRUNCATION_MARKER } from './display-text.ts';
export * from './limits.ts';
export * from './frames.ts';
export * from './messages.ts';
export { compareEvr, compareEvrParts, formatEvr, MAX_EPOCH, parseEvr, rpmvercmp, type Evr } from './evr.ts';
export { fnmatchcase, isGlobPattern } from './fnmatch.ts';
export {
  matchesSpec,
  specMatchPriority,
  templateNameOfPackage,
  templatePackageName,
  TEMPLATE_PACKAGE_PREFIX,
  type SpecCandidate,
} from './spec-match.ts';
export {
  readSparseTar,
  MAX_IMAGE_SIZE,
  MAX_SPARSE_EXTENTS,
  MAX_LONG_NAME_SIZE,
  MAX_PAX_HEADER_SIZE,
  MAX_END_PADDING,
  type SparseExtent,
  type SparseTarFormat,
  type SparseTarErrorCode,
  type SparseMemberEvent,
  type SparseDataEvent,
  type SparseTarEvent,
  type SparseTarOptions,
} from './sparse-tar.ts';
export { denseImageStream, DENSE_CHUNK_SIZE } from './sparse-image.ts';
export { ByteReader, MAX_READ_EXACT_BYTES } from './byte-reader.ts';
export * from './rpm-tags.ts';
export * from './rpm-lead.ts';
export * from './rpm-header.ts';
export * from './rpm-package.ts';
export { packageInfo, DIGEST_HEX_LENGTH } from './rpm-info.ts';
export * from './rpm-signature.ts';
export type * from './rpm-types.ts';
export type { RpmParseErrorCode, RpmVerificationErrorCode } from './rpm-errors.ts';
