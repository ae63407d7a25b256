/**
 * The template forge: our own writers of signed template RPMs (Qubes builder layout) and of
 * repository metadata, for tests, the demo and benchmarks. Hostile variants come from the
 * `mutations` options.
 */
export {
  exportPrivateKey,
  generateSigningKey,
  loadSigningKey,
  signDetachedArmored,
  signDetachedBinary,
  signDetachedStream,
} from './signing-key.ts';
export type { GenerateSigningKeyOptions, SigningKey } from './signing-key.ts';
export { writeRpm, rpmFileName, bytesContent } from './rpm-writer.ts';
export type {
  ExtraCpioEntry,
  RpmFileKind,
  RpmFileSpec,
  RpmMutations,
  RpmPackageSpec,
  StreamedContent,
  WriteRpmOptions,
  WrittenRpm,
} from './rpm-writer.ts';
export { forgeTemplate, TEMPLATES_DIR, DEFAULT_PART_SIZE } from './template.ts';
export type { ForgeTemplateOptions, ForgedTemplate, TemplateMutations } from './template.ts';
export { forgeRepository, hostilePrimaryEntry } from './repository.ts';
export type {
  ForgeRepositoryOptions,
  ForgedRepository,
  HostileEntryOptions,
  MetadataCompression,
} from './repository.ts';
export { FORGE_COMPRESSORS, COMPRESSORS } from './payload-compressor.ts';
export type { ForgeCompressor } from './payload-compressor.ts';
export { blockExtents, seededBytes, writeSparseImage } from './image-source.ts';
export type { ImageExtent, ImageSpec } from './image-source.ts';
export type { TarFormat, ImagePart } from './image-parts.ts';
export { readPackage } from './package-reader.ts';
export { ForgeError, type ForgeErrorCode } from './errors.ts';
