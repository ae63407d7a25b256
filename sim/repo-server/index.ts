/** The repository server: static files over HTTP(S) on 127.0.0.1 with fault injection. */
export { startRepoServer, type RepoServer, type RepoServerOptions, type RequestRecord } from './server.ts';
export { FaultTable, globToRegExp, type Fault, type FaultRule } from './faults.ts';
export { makeTestCertificates, type TestCertificates } from './certificates.ts';
export { answerRange, type RangeAnswer } from './byte-range.ts';
