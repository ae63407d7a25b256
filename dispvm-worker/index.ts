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
