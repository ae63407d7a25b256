/**
 * Every error code the project can raise, as one union (`ErrorCode`), grouped by the module that
 * raises it. `TmplError` takes an `ErrorCode`, so a misspelt code fails the type check.
 *
 * The list lives in protocol/ because codes cross the trust boundary: the worker's ERROR frame
 * carries one, the orchestrator reports it, and tests, `--json` consumers and the CLI's exit
 * statuses depend on it. Each code's meaning and exit status are in the catalogue
 * (orchestrator/error-catalogue.ts), from which docs/error-codes.md is generated.
 *
 * Over 300 lines: one list of every code, grouped by the module that raises it.
 */

/** Byte streams read by the RPM parsers (protocol/byte-reader.ts). */
export type StreamErrorCode =
  'stream.truncated' | 'stream.read-too-large' | 'stream.consumed' | 'stream.not-bytes';

/** The RPM lead, signature header and header parsers (protocol/rpm-*.ts). */
export type RpmParseErrorCode =
  | StreamErrorCode
  | 'rpm.truncated'
  | 'rpm.lead.truncated'
  | 'rpm.lead.magic'
  | 'rpm.lead.version'
  | 'rpm.lead.signature-type'
  | 'rpm.signature.padding'
  | 'rpm.header.magic'
  | 'rpm.header.index-count'
  | 'rpm.header.data-size'
  | 'rpm.header.region'
  | 'rpm.header.trailing'
  | 'rpm.header.entry-tag'
  | 'rpm.header.duplicate-tag'
  | 'rpm.header.entry-type'
  | 'rpm.header.entry-count'
  | 'rpm.header.entry-offset'
  | 'rpm.header.entry-alignment'
  | 'rpm.header.entry-overlap'
  | 'rpm.header.entry-size'
  | 'rpm.header.string'
  | 'rpm.header.tag-type'
  | 'rpm.header.string-encoding'
  | 'rpm.header.integer-range'
  | 'rpm.info.missing-tag'
  | 'rpm.info.tag-count'
  | 'rpm.info.old-filenames'
  | 'rpm.info.file-count'
  | 'rpm.info.dir-index'
  | 'rpm.info.payload-compressor'
  | 'rpm.digest.md5'
  | 'rpm.digest.unknown'
  | 'rpm.digest.malformed';

/** Package signature and digest checks (protocol/rpm-signature.ts, orchestrator/verify/). */
export type RpmVerificationErrorCode =
  | 'signature.missing'
  | 'signature.bad'
  | 'signature.untrusted-key'
  | 'signature.in-main-header'
  | 'digest.header-mismatch'
  | 'digest.payload-mismatch'
  | 'digest.md5-mismatch'
  | 'digest.missing'
  | 'digest.malformed';

/** EVR strings (protocol/evr.ts). */
export type EvrErrorCode =
  | 'evr.empty'
  | 'evr.too-long'
  | 'evr.epoch'
  | 'evr.epoch-range'
  | 'evr.version'
  | 'evr.release'
  | 'evr.charset';

/** The root image's sparse tar, its pax records and sparse maps (protocol/sparse-*.ts, tar-header.ts). */
export type SparseTarErrorCode =
  | 'sparse.truncated'
  | 'sparse.no-member'
  | 'sparse.second-member'
  | 'sparse.trailing-garbage'
  | 'sparse.end-padding'
  | 'sparse.header-checksum'
  | 'sparse.header-magic'
  | 'sparse.number'
  | 'sparse.number-non-canonical'
  | 'sparse.size-limit'
  | 'sparse.member-link'
  | 'sparse.member-device'
  | 'sparse.member-directory'
  | 'sparse.member-fifo'
  | 'sparse.member-type'
  | 'sparse.name'
  | 'sparse.long-name'
  | 'sparse.pax-size'
  | 'sparse.pax-record'
  | 'sparse.pax-value'
  | 'sparse.pax-keyword'
  | 'sparse.pax-conflict'
  | 'sparse.pax-global'
  | 'sparse.sparse-version'
  | 'sparse.sparse-map'
  | 'sparse.extent-count'
  | 'sparse.extent-order'
  | 'sparse.extent-overlap'
  | 'sparse.extent-past-size'
  | 'sparse.extent-size-mismatch'
  | 'sparse.event-order';

/** Worker frames and the JSON messages they carry (protocol/frames.ts, protocol/messages.ts). */
export type FrameErrorCode =
  | 'frame.type'
  | 'frame.reserved'
  | 'frame.too-large'
  | 'frame.truncated'
  | 'frame.unexpected'
  | 'frame.after-end'
  | 'message.json'
  | 'message.schema'
  | 'message.sequence';

/** The protocol's own codes: everything a pure parser of a shared format raises. */
export type ProtocolErrorCode =
  RpmParseErrorCode | RpmVerificationErrorCode | EvrErrorCode | SparseTarErrorCode | FrameErrorCode;

/** Downloads in the worker (dispvm-worker/http-fetch.ts). */
export type HttpErrorCode =
  | 'http.url'
  | 'http.connect-timeout'
  | 'http.idle-timeout'
  | 'http.too-slow'
  | 'http.status'
  | 'http.redirect'
  | 'http.range'
  | 'http.too-large'
  | 'http.truncated'
  | 'http.connection'
  | 'http.tls'
  | 'http.aborted';

/** The worker's refusals of its request or of the repository's data (dispvm-worker/errors.ts). */
export type WorkerErrorCode =
  | 'worker.request'
  | 'worker.input'
  | 'worker.repo-unsigned'
  | 'worker.repo-metadata'
  | 'worker.metadata-checksum'
  | 'worker.no-primary'
  | 'worker.not-found'
  | 'worker.package-checksum'
  | 'worker.package-size'
  | 'worker.package-identity'
  | 'worker.no-keys'
  | 'worker.head-too-large'
  | 'worker.output'
  | 'worker.internal';

/** The worker's XML reader (dispvm-worker/xml.ts). */
export type XmlErrorCode =
  | 'xml.doctype'
  | 'xml.entity'
  | 'xml.encoding'
  | 'xml.char'
  | 'xml.syntax'
  | 'xml.reference'
  | 'xml.mismatched-tag'
  | 'xml.depth'
  | 'xml.attributes'
  | 'xml.name';

/** repomd.xml and its detached signature (dispvm-worker/repomd.ts). */
export type RepomdErrorCode =
  | 'repomd.too-large'
  | 'repomd.elements'
  | 'repomd.root'
  | 'repomd.unknown-element'
  | 'repomd.duplicate'
  | 'repomd.missing'
  | 'repomd.type'
  | 'repomd.href'
  | 'repomd.checksum-type'
  | 'repomd.checksum-value'
  | 'repomd.number'
  | 'repomd.data-count';

export type RepomdSignatureErrorCode =
  | 'repomd.signature.malformed'
  | 'repomd.signature.no-keys'
  | 'repomd.signature.unknown-key'
  | 'repomd.signature.bad';

/** Metalink files (dispvm-worker/metalink.ts). */
export type MetalinkErrorCode =
  | 'metalink.too-large'
  | 'metalink.elements'
  | 'metalink.root'
  | 'metalink.no-file'
  | 'metalink.duplicate'
  | 'metalink.hash'
  | 'metalink.hash-mismatch'
  | 'metalink.no-strong-hash'
  | 'metalink.url-count'
  | 'metalink.number';

/** primary.xml (dispvm-worker/primary.ts); a skipped entry's code is also a query warning. */
export type PrimaryErrorCode =
  | 'primary.compression'
  | 'primary.decompress'
  | 'primary.too-large'
  | 'primary.size'
  | 'primary.checksum'
  | 'primary.open-size'
  | 'primary.open-checksum'
  | 'primary.root'
  | 'primary.unknown-element'
  | 'primary.package-type'
  | 'primary.package-count'
  | 'primary.missing'
  | 'primary.duplicate'
  | 'primary.field-too-long'
  | 'primary.name'
  | 'primary.arch'
  | 'primary.evr'
  | 'primary.number'
  | 'primary.checksum-type'
  | 'primary.checksum-value'
  | 'primary.href'
  /** Not thrown: the last query warning when more entries were skipped than a query carries. */
  | 'primary.more-skipped';

/** Payload decompression (dispvm-worker/decompress.ts). */
export type DecompressErrorCode =
  | 'payload.compressor-unknown'
  | 'payload.compressor-mismatch'
  | 'payload.too-large'
  | 'payload.corrupt'
  | 'payload.decompressor-unavailable'
  /** An addon and the command that stands in for it are both missing in the disposable. */
  | 'worker.missing-dependency'
  | 'payload.source';

/** The cpio archive inside the payload (dispvm-worker/cpio.ts). */
export type CpioErrorCode =
  | 'cpio.magic'
  | 'cpio.header'
  | 'cpio.name'
  | 'cpio.size'
  | 'cpio.mode'
  | 'cpio.padding'
  | 'cpio.file-index'
  | 'cpio.trailer'
  | 'cpio.trailing-data'
  | 'cpio.truncated'
  | 'cpio.content-consumed';

/** The payload's files against the signed header's file list (dispvm-worker/payload.ts). */
export type PayloadErrorCode =
  | 'payload.format'
  | 'payload.unlisted-file'
  | 'payload.ghost-file'
  | 'payload.file-order'
  | 'payload.missing-file'
  | 'payload.mode-mismatch'
  | 'payload.size-mismatch'
  | 'payload.symlink-mismatch'
  | 'payload.hardlink'
  | 'payload.trailing-data'
  | 'payload.content-consumed'
  | 'digest.file-algorithm'
  | 'digest.file-missing'
  | 'digest.file-mismatch'
  | 'digest.payload-missing'
  | 'digest.payload-mismatch';

/** Everything the worker in the disposable raises itself. */
export type DispvmWorkerErrorCode =
  | HttpErrorCode
  | WorkerErrorCode
  | XmlErrorCode
  | RepomdErrorCode
  | RepomdSignatureErrorCode
  | MetalinkErrorCode
  | PrimaryErrorCode
  | DecompressErrorCode
  | CpioErrorCode
  | PayloadErrorCode;

/** The orchestrator's OrchestratorError codes (orchestrator/errors.ts). */
export type OrchestratorErrorCode =
  | 'qubes.no-admin-api'
  | 'qubes.communication'
  | 'qubes.vm-not-found'
  | 'qubes.vm-already-exists'
  | 'qubes.vm-not-halted'
  | 'qubes.vm-not-running'
  | 'qubes.vm-in-use'
  | 'qubes.no-such-property'
  | 'qubes.feature-not-found'
  | 'qubes.tag-not-found'
  | 'qubes.label-not-found'
  | 'qubes.value'
  | 'qubes.storage'
  | 'qubes.permission-denied'
  | 'qubes.protocol'
  | 'qubes.exception'
  | 'qrexec.refused'
  | 'qrexec.failed'
  | 'lock.held'
  | 'worker.failed'
  | 'worker.protocol'
  | 'worker.timeout'
  | 'worker.too-slow'
  | 'worker.deadline'
  | 'worker.reported-error'
  | 'worker.missing-dependency'
  | 'import.failed'
  | 'image.empty'
  | 'pool.no-space'
  | 'template.not-found'
  | 'template.not-managed'
  | 'template.name-taken'
  | 'template.conf'
  | 'template.appmenu'
  | 'template.not-reverted'
  | 'template.post-install'
  | 'template.rollback'
  | 'metadata.rollback'
  | 'metadata.max-age'
  | 'metadata.signature'
  | 'metadata.revision'
  | 'metadata.evidence'
  | 'metadata.state'
  | 'config.repo'
  | 'config.keyring'
  | 'download.write'
  | 'usage'
  | 'cancelled'
  | 'interrupted';

/**
 * The VerificationError refusing a validly signed package whose content is not what the Qubes
 * builder makes, or a worker's package that is not the one asked for (orchestrator/verify/).
 */
export type PackageCheckErrorCode =
  | 'package.not-template'
  | 'package.bad-name'
  | 'package.file-too-large'
  | 'package.parts'
  | 'package.unexpected'
  | 'rpm.head-trailing'
  | 'download.partial-mismatch'
  | 'template.layout.outside'
  | 'template.layout.file-type'
  | 'template.layout.link'
  | 'template.layout.unknown'
  | 'template.layout.ghost'
  | 'template.layout.duplicate'
  | 'template.image-name';

/** .repo files and their INI syntax (orchestrator/repos/repo-config.ts, ini-file.ts). */
export type RepoConfigErrorCode =
  | 'repo-config.repo-id'
  | 'repo-config.bool'
  | 'repo-config.seconds'
  | 'repo-config.url'
  | 'repo-config.too-many'
  | 'repo-config.duplicate-repo'
  | 'repo-config.missing-file'
  | 'repo-config.glob'
  | 'repo-config.max-age'
  | 'repo-config.max-age-action';

export type IniErrorCode =
  | 'repo-config.too-large'
  | 'repo-config.encoding'
  | 'repo-config.missing-section'
  | 'repo-config.missing-bracket'
  | 'repo-config.empty-section'
  | 'repo-config.text-after-section'
  | 'repo-config.continuation'
  | 'repo-config.missing-key'
  | 'repo-config.missing-equal'
  | 'repo-config.duplicate-section'
  | 'repo-config.too-many-sections';

/**
 * Codes that reach `--json` without an error being thrown: repository warnings, a file check's
 * read failure (`tmpl verify`), and `internal` for anything that is not a TmplError (a bug).
 */
export type ReportedCode = 'metadata.unsigned' | 'io.read' | 'internal';

/** Everything the trusted side raises or reports. */
/** What `tmpl setup --check` finds missing (orchestrator/qubes/worker-setup.ts). */
export type SetupProblemCode =
  | 'setup.policy-denied'
  | 'setup.worker-service-missing'
  | 'setup.node-missing'
  | 'setup.no-network'
  | 'setup.dvm-missing'
  | 'setup.not-disposable-template'
  | 'setup.dvm-untagged'
  | 'setup.default-dispvm'
  | 'setup.manager-untagged'
  | 'setup.name-taken'
  | 'setup.worker-failed';

export type TrustedSideErrorCode =
  OrchestratorErrorCode | PackageCheckErrorCode | RepoConfigErrorCode | IniErrorCode | SetupProblemCode;

/** The simulator's own errors (sim/admin, sim/qrexec, sim/forge): tests and tmpl-sim only. */
export type SimAdminErrorCode = 'sim.admin.qubes-exception' | 'sim.admin.unhandled' | 'sim.admin.state';

export type QrexecErrorCode =
  | 'policy.syntax.fields'
  | 'policy.syntax.service'
  | 'policy.syntax.argument'
  | 'policy.syntax.token'
  | 'policy.syntax.action'
  | 'policy.syntax.param'
  | 'policy.syntax.directive'
  | 'policy.syntax.include'
  | 'policy.syntax.too-large'
  | 'policy.filename'
  | 'qrexec.denied'
  | 'qrexec.frame.type'
  | 'qrexec.frame.length'
  | 'qrexec.frame.hello'
  | 'qrexec.admin'
  | 'qrexec.service';

export type ForgeErrorCode =
  | 'forge.cpio-size'
  | 'forge.compressor-unavailable'
  | 'forge.compressor-failed'
  | 'forge.bad-option'
  | 'forge.image-size'
  | 'forge.package-read';

export type SimErrorCode = SimAdminErrorCode | QrexecErrorCode | ForgeErrorCode;

/** Every code: the type of `TmplError.code`. */
export type ErrorCode =
  ProtocolErrorCode | DispvmWorkerErrorCode | TrustedSideErrorCode | ReportedCode | SimErrorCode;
