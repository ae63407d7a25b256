export { TmplError, ParseError, VerificationError } from './errors.ts';
