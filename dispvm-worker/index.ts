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
export { runWorker, main as workerMain, workerVersion, type WorkerOptions } from './service.ts';
export {
  fetchBytes,
  fetchStream,
  CONNECT_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  LOW_SPEED_LIMIT_BYTES_PER_SECOND,
  LOW_SPEED_TIME_MS,
  MAX_ATTEMPTS_PER_MIRROR,
  MAX_REDIRECTS,
  type FetchRequest,
  type HttpFetchOptions,
} from './http-fetch.ts';
export { HttpError, WorkerError, type HttpErrorCode, type WorkerErrorCode } from './errors.ts';
export { loadRepository, type LoadedRepository, type RepoContext } from './repo-client.ts';
export { selectAllowedFiles, TEMPLATES_DIR as WORKER_TEMPLATES_DIR } from './ops-fetch.ts';
