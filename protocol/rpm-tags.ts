/**
 * RPM header tag numbers and data types, as defined by rpm's include/rpm/rpmtag.h and the RPM
 * file format (docs/manual/format_header.md). Only the tags tmpl reads or polices are named.
 */

/** Header entry data types (rpmTagType). 0 is RPM_NULL_TYPE, which no entry may use. */
export const RpmType = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;
export type RpmTypeValue = (typeof RpmType)[keyof typeof RpmType];

/** Region tags: the first index entry of a header, with a 16-byte trailer at the end of its data. */
export const HEADER_IMAGE = 61;
export const HEADER_SIGNATURES = 62;
export const HEADER_IMMUTABLE = 63;
/** Tags below this number are reserved for regions; no ordinary entry may use one. */
export const HEADER_I18NTABLE = 100;

/** Signature header tags (RPMSIGTAG_*), valid only in the signature header. */
export const SigTag = {
  /** Header + payload size, 32 bit. Not verified by rpm. */
  SIZE: 1000,
  /** Legacy OpenPGP RSA signature over header + payload (rpmsign --rpmv3). */
  PGP: 1002,
  /** MD5 over header + payload. */
  MD5: 1004,
  /** Legacy OpenPGP DSA signature over header + payload. */
  GPG: 1005,
  /** Uncompressed payload size, 32 bit. Not verified by rpm. */
  PAYLOADSIZE: 1007,
  RESERVEDSPACE: 1008,
  /** OpenPGP DSA signature over the main header only. */
  DSAHEADER: 267,
  /** OpenPGP RSA (and any v4 algorithm, in practice) signature over the main header only. */
  RSAHEADER: 268,
  /** Hex SHA-1 of the main header. */
  SHA1HEADER: 269,
  LONGSIZE: 270,
  LONGARCHIVESIZE: 271,
  /** Hex SHA-256 of the main header. */
  SHA256HEADER: 273,
  FILESIGNATURES: 274,
  FILESIGNATURELENGTH: 275,
  VERITYSIGNATURES: 276,
  VERITYSIGNATUREALGO: 277,
  /** rpm >= 4.20 / 6: base64 OpenPGP header signatures, one per array element. */
  OPENPGP: 278,
  /** rpm 6: hex SHA3-256 of the main header. */
  SHA3_256HEADER: 279,
} as const;

/** Main header tags (RPMTAG_*). */
export const Tag = {
  HEADERI18NTABLE: 100,
  /** Main-header spellings of signature tags: rpm refuses a package that carries them. */
  SIGSIZE: 257,
  SIGPGP: 259,
  SIGMD5: 261,
  SIGGPG: 262,
  DSAHEADER: 267,
  RSAHEADER: 268,
  SHA1HEADER: 269,
  LONGSIGSIZE: 270,
  LONGARCHIVESIZE: 271,
  SHA256HEADER: 273,
  OPENPGP: 278,
  SHA3_256HEADER: 279,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  DESCRIPTION: 1005,
  BUILDTIME: 1006,
  BUILDHOST: 1007,
  SIZE: 1009,
  LICENSE: 1014,
  URL: 1020,
  OS: 1021,
  ARCH: 1022,
  PREIN: 1023,
  POSTIN: 1024,
  OLDFILENAMES: 1027,
  FILESIZES: 1028,
  FILEMODES: 1030,
  FILEMTIMES: 1034,
  FILEDIGESTS: 1035,
  FILELINKTOS: 1036,
  FILEFLAGS: 1037,
  FILEUSERNAME: 1039,
  FILEGROUPNAME: 1040,
  SOURCERPM: 1044,
  ARCHIVESIZE: 1046,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  PAYLOADFLAGS: 1126,
  LONGFILESIZES: 5008,
  LONGSIZE: 5009,
  FILEDIGESTALGO: 5011,
  FILESIGNATURES: 5090,
  FILESIGNATURELENGTH: 5091,
  PAYLOADDIGEST: 5092,
  PAYLOADDIGESTALGO: 5093,
  PAYLOADDIGESTALT: 5097,
} as const;

/**
 * Declared types of the main-header tags tmpl knows. Like rpm's hdrchkTagType, a known tag with
 * another type is rejected (string-class tags may use any string type); unknown tags pass for
 * forward compatibility.
 */
export const MAIN_HEADER_TAG_TYPES: ReadonlyMap<number, number> = new Map<number, number>([
  [Tag.HEADERI18NTABLE, RpmType.STRING_ARRAY],
  [Tag.SIGSIZE, RpmType.INT32],
  [Tag.SIGPGP, RpmType.BIN],
  [Tag.SIGMD5, RpmType.BIN],
  [Tag.SIGGPG, RpmType.BIN],
  [Tag.DSAHEADER, RpmType.BIN],
  [Tag.RSAHEADER, RpmType.BIN],
  [Tag.SHA1HEADER, RpmType.STRING],
  [Tag.LONGSIGSIZE, RpmType.INT64],
  [Tag.LONGARCHIVESIZE, RpmType.INT64],
  [Tag.SHA256HEADER, RpmType.STRING],
  [Tag.OPENPGP, RpmType.STRING_ARRAY],
  [Tag.SHA3_256HEADER, RpmType.STRING],
  [Tag.NAME, RpmType.STRING],
  [Tag.VERSION, RpmType.STRING],
  [Tag.RELEASE, RpmType.STRING],
  [Tag.EPOCH, RpmType.INT32],
  [Tag.SUMMARY, RpmType.I18NSTRING],
  [Tag.DESCRIPTION, RpmType.I18NSTRING],
  [Tag.BUILDTIME, RpmType.INT32],
  [Tag.BUILDHOST, RpmType.STRING],
  [Tag.SIZE, RpmType.INT32],
  [Tag.LICENSE, RpmType.STRING],
  [Tag.URL, RpmType.STRING],
  [Tag.OS, RpmType.STRING],
  [Tag.ARCH, RpmType.STRING],
  [Tag.PREIN, RpmType.STRING],
  [Tag.POSTIN, RpmType.STRING],
  [Tag.OLDFILENAMES, RpmType.STRING_ARRAY],
  [Tag.FILESIZES, RpmType.INT32],
  [Tag.FILEMODES, RpmType.INT16],
  [Tag.FILEMTIMES, RpmType.INT32],
  [Tag.FILEDIGESTS, RpmType.STRING_ARRAY],
  [Tag.FILELINKTOS, RpmType.STRING_ARRAY],
  [Tag.FILEFLAGS, RpmType.INT32],
  [Tag.FILEUSERNAME, RpmType.STRING_ARRAY],
  [Tag.FILEGROUPNAME, RpmType.STRING_ARRAY],
  [Tag.SOURCERPM, RpmType.STRING],
  [Tag.ARCHIVESIZE, RpmType.INT32],
  [Tag.DIRINDEXES, RpmType.INT32],
  [Tag.BASENAMES, RpmType.STRING_ARRAY],
  [Tag.DIRNAMES, RpmType.STRING_ARRAY],
  [Tag.PAYLOADFORMAT, RpmType.STRING],
  [Tag.PAYLOADCOMPRESSOR, RpmType.STRING],
  [Tag.PAYLOADFLAGS, RpmType.STRING],
  [Tag.LONGFILESIZES, RpmType.INT64],
  [Tag.LONGSIZE, RpmType.INT64],
  [Tag.FILEDIGESTALGO, RpmType.INT32],
  [Tag.FILESIGNATURES, RpmType.STRING_ARRAY],
  [Tag.FILESIGNATURELENGTH, RpmType.INT32],
  [Tag.PAYLOADDIGEST, RpmType.STRING_ARRAY],
  [Tag.PAYLOADDIGESTALGO, RpmType.INT32],
  [Tag.PAYLOADDIGESTALT, RpmType.STRING_ARRAY],
]);

/**
 * Main-header tags that only the signature header may carry (rpm's headerMergeLegacySigs
 * refuses a package whose main header has one). A signature or digest found in the main header
 * never counts: the main header is what the signature covers, not where it lives.
 */
export const SIGNATURE_ONLY_MAIN_TAGS: ReadonlySet<number> = new Set<number>([
  Tag.SIGSIZE,
  Tag.SIGPGP,
  Tag.SIGMD5,
  Tag.SIGGPG,
  Tag.DSAHEADER,
  Tag.RSAHEADER,
  Tag.SHA1HEADER,
  Tag.LONGSIGSIZE,
  Tag.LONGARCHIVESIZE,
  Tag.SHA256HEADER,
  Tag.OPENPGP,
  Tag.SHA3_256HEADER,
]);
