/**
 * The JSON messages of the worker protocol, as zod schemas. Every object is `.strict()` and every
 * string has a length and charset bound: on the orchestrator's side everything here is untrusted
 * (it comes from the disposable worker), and on the worker's side the request is checked before
 * it is acted on.
 *
 * Validation errors read `path.to.field: message` and surface as ParseError 'message.schema'
 * (or 'message.json' for bytes that are not UTF-8 JSON).
 *
 * Over 300 lines: every message of the protocol in one place, so that both sides read one
 * contract.
 */
import { z } from 'zod';
import { ParseError } from './errors.ts';
import type { Frame, FrameType } from './frames.ts';
import { encodeJsonFrame } from './frames.ts';
import {
  MAX_ALLOWED_FILES,
  MAX_ARMORED_KEY_LENGTH,
  MAX_BASEURLS,
  MAX_BYTE_COUNT,
  MAX_CA_BUNDLE_LENGTH,
  MAX_DESCRIPTION_LENGTH,
  MAX_EPOCH,
  MAX_ERROR_CODE_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_FILE_PATH_LENGTH,
  MAX_KEYS_PER_REPO,
  MAX_LICENSE_LENGTH,
  MAX_METADATA_FILES,
  MAX_NAME_LENGTH,
  MAX_QUERY_PACKAGES,
  MAX_QUERY_WARNINGS,
  MAX_REPOMD_EVIDENCE_BYTES,
  MAX_REPOMD_REVISION_DIGITS,
  MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH,
  MAX_REPOS,
  MAX_REQUESTS_PER_SESSION,
  MAX_SUMMARY_LENGTH,
  MAX_URL_LENGTH,
  MAX_VERSION_LENGTH,
  MAX_WARNING_MESSAGE_LENGTH,
} from './limits.ts';

export type MessageCodes = 'message.json' | 'message.schema' | 'message.sequence';

/** The only protocol version. */
export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Charsets

/** dnf repository ids: letters, digits and -_.: */
export const REPO_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;
/** rpm package names as Fedora's packaging guidelines allow them. */
export const PACKAGE_NAME_PATTERN = /^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/;
/** rpm version and release: no '-' (it separates them), plus rpm's ~ and ^ ordering marks. */
export const VERSION_PATTERN = /^[A-Za-z0-9_.+~^]+$/;
/** $releasever values ("4.2", "4.3", "rawhide"). */
export const RELEASEVER_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;
/** http(s) URLs as they appear in .repo files: printable ASCII, no space; $releasever allowed. */
export const URL_PATTERN = /^https?:\/\/[\x21-\x7e]+$/;
/** Armoured text (keys, PEM): printable ASCII plus tab, CR and LF. */
const ARMOR_CHARSET = /^[\x09\x0a\x0d\x20-\x7e]*$/;
/** Error codes: dotted lowercase words, as in protocol/errors.ts. */
export const ERROR_CODE_PATTERN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;
/** The worker's version string. */
const WORKER_VERSION_PATTERN = /^[A-Za-z0-9_.+-]{1,64}$/;

/**
 * Characters refused in display text: C0 and C1 controls and DEL (terminal escapes), unpaired
 * surrogates, and the bidirectional overrides and isolates that reorder what a terminal shows
 * (Unicode TR#9; CVE-2021-42574).
 */
const UNSAFE_TEXT = /[\p{Cc}\p{Cs}\u202a-\u202e\u2066-\u2069]/u;
const UNSAFE_TEXT_GLOBAL = /[\p{Cc}\p{Cs}\u202a-\u202e\u2066-\u2069]/gu;
/** Same, but LF and TAB allowed (multi-line descriptions). */
const UNSAFE_MULTILINE_TEXT_GLOBAL = /(?![\n\t])[\p{Cc}\p{Cs}\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Makes untrusted text safe for the schemas below: every refused character becomes U+FFFD, and
 * the text is cut at `max` characters (without splitting a surrogate pair). The worker runs
 * repository text through this before it sends a listing.
 */
export function sanitizeText(text: string, max: number, opts: { multiline?: boolean } = {}): string {
  const cleaned = text.replace(opts.multiline ? UNSAFE_MULTILINE_TEXT_GLOBAL : UNSAFE_TEXT_GLOBAL, '\ufffd');
  if (cleaned.length <= max) return cleaned;
  let end = max;
  const last = cleaned.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return cleaned.slice(0, end);
}

function text(max: number, opts: { multiline?: boolean; min?: number } = {}) {
  return z
    .string()
    .min(opts.min ?? 0)
    .max(max)
    .refine(
      (s) => !UNSAFE_TEXT.test(opts.multiline ? s.replace(/[\n\t]/g, ' ') : s),
      opts.multiline
        ? 'control, bidi-override or unpaired surrogate character'
        : 'control, line break, bidi-override or unpaired surrogate character',
    );
}

const byteCount = z.number().int().min(0).max(MAX_BYTE_COUNT);
const url = z.string().max(MAX_URL_LENGTH).regex(URL_PATTERN, 'not an http(s) URL of printable ASCII');
const repoId = z.string().regex(REPO_ID_PATTERN, 'not a repository id ([A-Za-z0-9_.:-], 1-100)');
const packageName = z
  .string()
  .min(1)
  .max(MAX_NAME_LENGTH)
  .regex(PACKAGE_NAME_PATTERN, 'not an rpm package name');
const epoch = z.number().int().min(0).max(MAX_EPOCH);
const version = z.string().min(1).max(MAX_VERSION_LENGTH).regex(VERSION_PATTERN, 'not an rpm version');
const filePath = text(MAX_FILE_PATH_LENGTH, { min: 2 }).refine(
  (p) => p.startsWith('/') && !p.split('/').some((part) => part === '..' || part === '.'),
  'not an absolute normalised path',
);

// ---------------------------------------------------------------------------------------------
// orchestrator → worker

export const RepoConfigSchema = z
  .object({
    id: repoId,
    name: text(MAX_SUMMARY_LENGTH).optional(),
    baseurls: z.array(url).max(MAX_BASEURLS),
    metalink: url.optional(),
    mirrorlist: url.optional(),
    gpgcheck: z.boolean(),
    repoGpgcheck: z.boolean(),
    keys: z
      .array(
        z
          .string()
          .max(MAX_ARMORED_KEY_LENGTH)
          .regex(ARMOR_CHARSET, 'armoured key is not printable ASCII')
          .refine((k) => k.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----'), 'not an armoured public key'),
      )
      .max(MAX_KEYS_PER_REPO),
    sslcacert: z
      .string()
      .max(MAX_CA_BUNDLE_LENGTH)
      .regex(ARMOR_CHARSET, 'CA bundle is not printable ASCII')
      .refine((k) => k.includes('-----BEGIN CERTIFICATE-----'), 'not a PEM certificate bundle')
      .optional(),
    sslverify: z.boolean().optional(),
    /**
     * The newest repomd <revision> the orchestrator accepted for this repository: a mirror that
     * serves an older one is stale, and an honest worker tries the next. The orchestrator decides.
     */
    minRevision: z
      .string()
      .max(MAX_REPOMD_REVISION_DIGITS)
      .regex(/^(0|[1-9][0-9]*)$/, 'not a decimal revision')
      .optional(),
  })
  .strict();

export const PackageRefSchema = z
  .object({
    repoid: repoId,
    name: packageName,
    epoch,
    version,
    release: version,
  })
  .strict();

/**
 * Kinds of file the worker may send; 'root.img' stands for every root.img.part.NN. The worker
 * never sends anything else, whatever the request says.
 */
export const ALLOWED_FILE_KINDS = [
  'template.conf',
  'whitelisted-appmenus.list',
  'vm-whitelisted-appmenus.list',
  'netvm-whitelisted-appmenus.list',
  'root.img',
] as const;
export type AllowedFileKind = (typeof ALLOWED_FILE_KINDS)[number];

export const WorkerRequestSchema = z
  .object({
    protocol: z.literal(PROTOCOL_VERSION),
    op: z.enum(['query', 'fetch', 'download', 'header', 'unpack', 'hello']),
    releasever: z.string().regex(RELEASEVER_PATTERN, 'not a release version'),
    repos: z.array(RepoConfigSchema).max(MAX_REPOS),
    package: PackageRefSchema.optional(),
    resumeFrom: byteCount.optional(),
    allowedFiles: z.array(z.enum(ALLOWED_FILE_KINDS)).max(MAX_ALLOWED_FILES).optional(),
  })
  .strict()
  .superRefine((req, ctx) => {
    const needsPackage = req.op === 'fetch' || req.op === 'download' || req.op === 'header';
    if (needsPackage && req.package === undefined) {
      ctx.addIssue({ code: 'custom', path: ['package'], message: `required for op ${req.op}` });
    }
    if (req.op === 'query' && req.package !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['package'], message: 'not allowed for op query' });
    }
    if (req.resumeFrom !== undefined && req.op !== 'download') {
      ctx.addIssue({ code: 'custom', path: ['resumeFrom'], message: 'only allowed for op download' });
    }
    if (req.op === 'hello') {
      // A round trip that proves the worker runs (tmpl setup): no repository, no package.
      if (req.repos.length !== 0 || req.package !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['op'], message: 'op hello takes no repository or package' });
      }
    } else if (req.op === 'unpack') {
      if (req.repos.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['repos'],
          message: 'op unpack takes exactly one repository entry (its keys and gpgcheck apply)',
        });
      }
    } else {
      if (req.repos.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['repos'], message: 'at least one repository' });
      }
      req.repos.forEach((repo, i) => {
        if (repo.baseurls.length === 0 && repo.metalink === undefined && repo.mirrorlist === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['repos', i],
            message: 'needs baseurls, metalink or mirrorlist',
          });
        }
      });
    }
    const ids = new Set<string>();
    req.repos.forEach((repo, i) => {
      if (ids.has(repo.id)) {
        ctx.addIssue({ code: 'custom', path: ['repos', i, 'id'], message: 'duplicate repository id' });
      }
      ids.add(repo.id);
    });
    if (req.package !== undefined && req.op !== 'unpack' && !ids.has(req.package.repoid)) {
      ctx.addIssue({
        code: 'custom',
        path: ['package', 'repoid'],
        message: 'names no repository of the request',
      });
    }
  });

export type RepoConfig = z.infer<typeof RepoConfigSchema>;
export type PackageRef = z.infer<typeof PackageRefSchema>;
export type WorkerRequest = z.infer<typeof WorkerRequestSchema>;

// ---------------------------------------------------------------------------------------------
// worker → orchestrator (untrusted on arrival)

export const HelloSchema = z
  .object({
    protocol: z.literal(PROTOCOL_VERSION),
    worker: z.string().regex(WORKER_VERSION_PATTERN, 'not a version string'),
    /**
     * Requests this worker answers in one session (protocol/request-sequence.ts); absent: one
     * (a worker from before sessions), so the orchestrator starts another for the next request.
     */
    requests: z.number().int().min(1).max(MAX_REQUESTS_PER_SESSION).optional(),
  })
  .strict();

export const PROGRESS_STAGES = ['metadata', 'download', 'verify', 'unpack'] as const;

export const ProgressSchema = z
  .object({
    stage: z.enum(PROGRESS_STAGES),
    done: byteCount,
    total: byteCount.optional(),
  })
  .strict();

/** One package of a query result; the fields of qvm-template's search query format. */
export const PackageListingSchema = z
  .object({
    name: packageName,
    epoch,
    version,
    release: version,
    repoid: repoId,
    downloadsize: byteCount,
    buildtime: byteCount,
    license: text(MAX_LICENSE_LENGTH),
    url: text(MAX_URL_LENGTH),
    summary: text(MAX_SUMMARY_LENGTH),
    description: text(MAX_DESCRIPTION_LENGTH, { multiline: true }),
  })
  .strict();

/**
 * A repository entry the worker skipped (a well-formed package entry whose fields break the
 * rules: an over-long version, a bad name, ...) or another condition worth telling the user.
 * `package` is the entry's name when it is a valid package name.
 */
export const QueryWarningSchema = z
  .object({
    code: z.string().max(MAX_ERROR_CODE_LENGTH).regex(ERROR_CODE_PATTERN, 'not an error code'),
    repoid: repoId,
    message: text(MAX_WARNING_MESSAGE_LENGTH),
    package: packageName.optional(),
  })
  .strict();

/** Canonical base64 (RFC 4648 §4, padded) of at most `maxBytes` bytes. */
function base64(maxBytes: number) {
  return z
    .string()
    .max(Math.ceil(maxBytes / 3) * 4)
    .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'not padded base64');
}

/**
 * The repomd.xml a listing was read from, exactly as the mirror served it, and its detached
 * signature (null when the repository has no repo_gpgcheck). The orchestrator checks the
 * signature with its own keys and reads the revision from the signed bytes.
 */
export const RepomdEvidenceSchema = z
  .object({
    repoid: repoId,
    repomd: base64(MAX_REPOMD_EVIDENCE_BYTES),
    signature: z
      .string()
      .max(MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH)
      .regex(ARMOR_CHARSET, 'armoured signature is not printable ASCII')
      .nullable(),
  })
  .strict();

export const QueryResultSchema = z
  .object({
    packages: z.array(PackageListingSchema).max(MAX_QUERY_PACKAGES),
    warnings: z.array(QueryWarningSchema).max(MAX_QUERY_WARNINGS).optional(),
    repomd: z.array(RepomdEvidenceSchema).max(MAX_REPOS),
  })
  .strict();

export const PackageIdentitySchema = z
  .object({
    name: packageName,
    epoch,
    version,
    release: version,
    arch: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_]+$/, 'not an rpm arch'),
  })
  .strict();

export const FileAnnouncementSchema = z.object({ path: filePath, size: byteCount }).strict();

/** Sent after HEAD in fetch and unpack: what the worker read from the header, and what it will send. */
export const MetadataSchema = z
  .object({
    package: PackageIdentitySchema,
    /** null for op unpack (a local file). */
    repoid: repoId.nullable(),
    files: z.array(FileAnnouncementSchema).max(MAX_METADATA_FILES),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.files.forEach((f, i) => {
      if (seen.has(f.path))
        ctx.addIssue({ code: 'custom', path: ['files', i, 'path'], message: 'duplicate path' });
      seen.add(f.path);
    });
  });

export const FileBeginSchema = FileAnnouncementSchema;
export const FileEndSchema = z.object({ path: filePath }).strict();

export const EndSchema = z
  .object({
    /** Files sent (fetch, unpack), else 0. */
    files: z.number().int().min(0).max(MAX_METADATA_FILES),
    /** Bytes sent in FILE_DATA or PAYLOAD_DATA frames. */
    bytes: byteCount,
  })
  .strict();

export const ErrorFrameSchema = z
  .object({
    code: z.string().max(MAX_ERROR_CODE_LENGTH).regex(ERROR_CODE_PATTERN, 'not a dotted error code'),
    message: text(MAX_ERROR_MESSAGE_LENGTH, { multiline: true }),
  })
  .strict();

export type Hello = z.infer<typeof HelloSchema>;
export type Progress = z.infer<typeof ProgressSchema>;
export type PackageListing = z.infer<typeof PackageListingSchema>;
export type QueryResult = z.infer<typeof QueryResultSchema>;
export type QueryWarning = z.infer<typeof QueryWarningSchema>;
export type RepomdEvidence = z.infer<typeof RepomdEvidenceSchema>;
export type PackageIdentity = z.infer<typeof PackageIdentitySchema>;
export type FileAnnouncement = z.infer<typeof FileAnnouncementSchema>;
export type Metadata = z.infer<typeof MetadataSchema>;
export type FileEnd = z.infer<typeof FileEndSchema>;
export type End = z.infer<typeof EndSchema>;
export type ErrorFrame = z.infer<typeof ErrorFrameSchema>;

/** The schema of each JSON frame type. */
export const FRAME_SCHEMAS = {
  REQUEST: WorkerRequestSchema,
  HELLO: HelloSchema,
  PROGRESS: ProgressSchema,
  METADATA: MetadataSchema,
  FILE_BEGIN: FileBeginSchema,
  FILE_END: FileEndSchema,
  QUERY_RESULT: QueryResultSchema,
  END: EndSchema,
  ERROR: ErrorFrameSchema,
} as const satisfies Partial<Record<FrameType, z.ZodType>>;

export type JsonFrameType = keyof typeof FRAME_SCHEMAS;
export type JsonFrameMessage<T extends JsonFrameType> = z.infer<(typeof FRAME_SCHEMAS)[T]>;

// ---------------------------------------------------------------------------------------------
// helpers

/** `path.to.field: message; ...` for the first few issues. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

/** Parses a value with a schema; throws ParseError 'message.schema' with `path: message`. */
export function parseMessage<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ParseError('message.schema', `${what}: ${formatIssues(result.error)}`, 0);
  return result.data;
}

/** Decodes UTF-8 JSON strictly (no BOM, no invalid sequences); throws ParseError 'message.json'. */
export function parseJsonBytes(bytes: Uint8Array, what: string): unknown {
  let textValue: string;
  try {
    textValue = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new ParseError('message.json', `${what} is not valid UTF-8`, 0, { cause });
  }
  if (textValue.startsWith('\ufeff')) throw new ParseError('message.json', `${what} starts with a BOM`, 0);
  try {
    return JSON.parse(textValue) as unknown;
  } catch (cause) {
    throw new ParseError('message.json', `${what} is not JSON`, 0, { cause });
  }
}

/** Decodes and validates the JSON payload of a frame against its type's schema. */
export function decodeJsonFrame<T extends JsonFrameType>(frame: Frame, type: T): JsonFrameMessage<T> {
  if (frame.type !== type) throw new ParseError('frame.unexpected', `expected ${type}, got ${frame.type}`, 0);
  const schema: z.ZodType = FRAME_SCHEMAS[type];
  return parseMessage(
    schema,
    parseJsonBytes(frame.payload, `${type} frame`),
    `${type} frame`,
  ) as JsonFrameMessage<T>;
}

/** Validates a message against its type's schema and encodes it as a frame. */
export function encodeMessageFrame<T extends JsonFrameType>(
  type: T,
  message: JsonFrameMessage<T>,
): Uint8Array {
  const schema: z.ZodType = FRAME_SCHEMAS[type];
  return encodeJsonFrame(type, parseMessage(schema, message, `${type} frame`));
}

/** Validates a request and encodes it as a REQUEST frame. */
export function encodeRequest(request: WorkerRequest): Uint8Array {
  return encodeMessageFrame('REQUEST', request);
}

/** Decodes a REQUEST frame's payload (untrusted bytes: only the orchestrator should send it). */
export function decodeRequest(payload: Uint8Array): WorkerRequest {
  return parseMessage(WorkerRequestSchema, parseJsonBytes(payload, 'REQUEST frame'), 'REQUEST frame');
}
