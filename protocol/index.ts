export { TmplError, ParseError, VerificationError } from './errors.ts';
export * from './limits.ts';
export * from './frames.ts';
export * from './messages.ts';
export { compareEvr, compareEvrParts, formatEvr, parseEvr, rpmvercmp, type Evr } from './evr.ts';
export { fnmatchcase, isGlobPattern } from './fnmatch.ts';
export {
  matchesSpec,
  specMatchPriority,
  templateNameOfPackage,
  templatePackageName,
  TEMPLATE_PACKAGE_PREFIX,
  type SpecCandidate,
} from './spec-match.ts';
