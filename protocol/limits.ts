/**
 * Resource limits shared by both sides of the trust boundary. Every parser of untrusted bytes
 * checks declared lengths against these before it reads or allocates.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes of a frame header: type (1), reserved zero bytes (3), big-endian payload length (4). */
export const FRAME_HEADER_LENGTH = 8;

/** Largest payload of a JSON frame other than REQUEST and QUERY_RESULT (HELLO, PROGRESS, METADATA, ...). */
export const MAX_JSON_FRAME_LENGTH = 1 * MiB;

/** Largest REQUEST payload: repository definitions with armoured keys and CA certificates. */
export const MAX_REQUEST_FRAME_LENGTH = 4 * MiB;

/** Largest QUERY_RESULT payload: the listing of every template package of every repository. */
export const MAX_QUERY_RESULT_FRAME_LENGTH = 8 * MiB;

/** Largest HEAD payload: lead + signature header + padding + main header of one package. */
export const MAX_HEAD_FRAME_LENGTH = 16 * MiB;

/** Largest payload of a raw data frame (PACKAGE_DATA, FILE_DATA, PAYLOAD_DATA). */
export const MAX_DATA_FRAME_LENGTH = 1 * MiB;

/** Repositories in one request. */
export const MAX_REPOS = 64;
/** Base URLs of one repository. */
export const MAX_BASEURLS = 32;
/** Length of a URL (baseurl, metalink, mirrorlist, package url). */
export const MAX_URL_LENGTH = 2048;
/** Armoured public keys of one repository. */
export const MAX_KEYS_PER_REPO = 16;
/** Length of one armoured public key block. */
export const MAX_ARMORED_KEY_LENGTH = 256 * KiB;
/** Length of a PEM CA bundle (sslcacert). */
export const MAX_CA_BUNDLE_LENGTH = 1 * MiB;
/** Files the orchestrator may name in allowedFiles. */
export const MAX_ALLOWED_FILES = 16;

/**
 * Requests one worker session (one disposable) answers: a query, then at most one package
 * (protocol/request-sequence.ts). One package per disposable: what a package's payload did to
 * the worker cannot reach another package.
 */
export const MAX_REQUESTS_PER_SESSION = 2;
/** Packages in one QUERY_RESULT. */
export const MAX_QUERY_PACKAGES = 10_000;
/** Files announced in METADATA (root.img.part.NN at 1 GiB each plus a handful of small files). */
export const MAX_METADATA_FILES = 10_000;
/** Length of an installed file path. */
export const MAX_FILE_PATH_LENGTH = 4096;

/**
 * Largest epoch: rpm stores EPOCH (tag 1003) as an RPM_INT32_TYPE and reads it back unsigned
 * (rpmtdGetNumber returns the uint32_t; headerGetNumber widens it to uint64_t), so every value
 * up to 2^32-1 is an epoch rpm installs, lists and compares.
 */
export const MAX_EPOCH = 0xffff_ffff;

/** Field lengths of a package listing (characters). */
export const MAX_NAME_LENGTH = 200;
export const MAX_VERSION_LENGTH = 128;
export const MAX_LICENSE_LENGTH = 1024;
export const MAX_SUMMARY_LENGTH = 1024;
export const MAX_DESCRIPTION_LENGTH = 16 * KiB;

/** Warnings in one QUERY_RESULT (repository entries skipped); more are summed up in the last one. */
export const MAX_QUERY_WARNINGS = 100;
/** Length of one warning's message. */
export const MAX_WARNING_MESSAGE_LENGTH = 1024;
/**
 * repomd.xml bytes the worker hands back with a listing, for the orchestrator to check their
 * signature and freshness itself (Fedora's repomd.xml, a dozen data types, is under 10 KiB).
 */
export const MAX_REPOMD_EVIDENCE_BYTES = 64 * KiB;
/** Length of the armoured detached signature (repomd.xml.asc) sent with it. */
export const MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH = 16 * KiB;
/** Digits of a repomd <revision> (createrepo_c writes a Unix time; 20 digits hold any 64-bit one). */
export const MAX_REPOMD_REVISION_DIGITS = 20;

/** Length of an error message and of an error code in an ERROR frame. */
export const MAX_ERROR_MESSAGE_LENGTH = 4096;
export const MAX_ERROR_CODE_LENGTH = 100;

/** Largest byte count in any message: files and payloads beyond 2^53 cannot exist here. */
export const MAX_BYTE_COUNT = Number.MAX_SAFE_INTEGER;
