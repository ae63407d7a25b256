export {
  findRepomdData,
  parseRepomd,
  verifyRepomdSignature,
  METADATA_CHECKSUM_TYPES,
  type MetadataChecksum,
  type Repomd,
  type RepomdData,
  type RepomdOptions,
} from './repomd.ts';
export { parsePrimaryXml, readPrimary, type PrimaryOptions, type PrimaryPackage } from './primary.ts';
export {
  checkRepomdAgainstMetalink,
  parseMetalink,
  type Metalink,
  type MetalinkMirror,
  type MetalinkRepomd,
} from './metalink.ts';
export { decompressMetadata, detectCompression, type MetadataCompression } from './metadata-decompress.ts';
export {
  backendAvailable,
  decompress,
  detectCompressor,
  BACKEND_ORDER,
  LZMA_MEMORY_LIMIT_BYTES,
  MAX_DECOMPRESSED_PAYLOAD_BYTES,
  ZSTD_WINDOW_LOG_MAX,
  type DecompressBackend,
  type DecompressErrorCode,
  type DecompressOptions,
} from './decompress.ts';
export {
  checkCpioName,
  parseCpio,
  CPIO_MAX_NAME_SIZE,
  CPIO_MAX_SYMLINK_SIZE,
  type CpioEntry,
  type CpioErrorCode,
  type CpioFileListEntry,
  type CpioOptions,
} from './cpio.ts';
export {
  payloadSizeBound,
  unpackPayload,
  ACCEPTED_FILE_DIGESTS,
  RPMFILE_GHOST,
  type PayloadEntry,
  type PayloadErrorCode,
  type UnpackOptions,
} from './payload.ts';
