/**
 * RPM header tag numbers and data types the forge writes (rpm's lib/rpmtag.h, docs/manual/tags.md,
 * docs/manual/format_header.md). Only the subset a noarch template package needs.
 */

/** Header entry data types (rpmTagType). */
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
export type RpmTypeCode = (typeof RpmType)[keyof typeof RpmType];

/** Region tags: the first index entry of each header, its data the 16-byte region trailer. */
export const TAG_HEADERSIGNATURES = 62;
export const TAG_HEADERIMMUTABLE = 63;
export const TAG_HEADERI18NTABLE = 100;

/** Signature header tags (rpmSigTag). */
export const SigTag = {
  DSAHEADER: 267,
  RSAHEADER: 268,
  SHA1HEADER: 269,
  LONGSIZE: 270,
  LONGARCHIVESIZE: 271,
  SHA256HEADER: 273,
  SIZE: 1000,
  PGP: 1002,
  MD5: 1004,
  GPG: 1005,
  PAYLOADSIZE: 1007,
  RESERVEDSPACE: 1008,
} as const;

/** Main header tags (rpmTag). */
export const Tag = {
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
  GROUP: 1016,
  URL: 1020,
  OS: 1021,
  ARCH: 1022,
  PREIN: 1023,
  POSTIN: 1024,
  FILESIZES: 1028,
  FILEMODES: 1030,
  FILERDEVS: 1033,
  FILEMTIMES: 1034,
  FILEDIGESTS: 1035,
  FILELINKTOS: 1036,
  FILEFLAGS: 1037,
  FILEUSERNAME: 1039,
  FILEGROUPNAME: 1040,
  SOURCERPM: 1044,
  FILEVERIFYFLAGS: 1045,
  PROVIDENAME: 1047,
  REQUIREFLAGS: 1048,
  REQUIRENAME: 1049,
  REQUIREVERSION: 1050,
  RPMVERSION: 1064,
  PREINPROG: 1085,
  POSTINPROG: 1086,
  FILEDEVICES: 1095,
  FILEINODES: 1096,
  FILELANGS: 1097,
  PROVIDEFLAGS: 1112,
  PROVIDEVERSION: 1113,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  PAYLOADFLAGS: 1126,
  PLATFORM: 1132,
  LONGFILESIZES: 5008,
  LONGSIZE: 5009,
  FILEDIGESTALGO: 5011,
  ENCODING: 5062,
  PAYLOADDIGEST: 5092,
  PAYLOADDIGESTALGO: 5093,
  PAYLOADDIGESTALT: 5097,
} as const;

/** rpmsenseFlags bits used in PROVIDEFLAGS / REQUIREFLAGS. */
export const Sense = {
  LESS: 0x02,
  GREATER: 0x04,
  EQUAL: 0x08,
  INTERP: 0x100,
  SCRIPT_PRE: 0x200,
  SCRIPT_POST: 0x400,
  RPMLIB: 0x1000000,
} as const;

/** rpmfileAttrs bits (FILEFLAGS). */
export const FileFlag = {
  CONFIG: 1 << 0,
  GHOST: 1 << 6,
} as const;

/** PGP hash algorithm number for SHA-256 (RFC 4880 9.4), as FILEDIGESTALGO/PAYLOADDIGESTALGO use it. */
export const PGPHASHALGO_SHA256 = 8;

/** Files at or above this size need LONGFILESIZES, the stripped cpio layout and rpmlib(LargeFiles). */
export const LARGE_FILE_THRESHOLD = 2 ** 32;
