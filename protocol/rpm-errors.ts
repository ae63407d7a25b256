/**
 * Stable error codes of the RPM parsers (ParseError) and of package verification
 * (VerificationError), listed with every other code in error-codes.ts.
 */
export type { RpmParseErrorCode, RpmVerificationErrorCode } from './error-codes.ts';
