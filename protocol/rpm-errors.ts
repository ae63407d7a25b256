/**
 * Stable error codes of the RPM parsers (ParseError) and of package verification
 * (VerificationError). Tests and the CLI rely on these, never on message text.
 */

export type RpmParseErrorCode =
  | 'stream.truncated'
  | 'stream.read-too-large'
  | 'stream.consumed'
  | 'stream.not-bytes'
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
