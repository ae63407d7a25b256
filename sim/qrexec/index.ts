/** The simulator's qrexec: policy engine, daemon, clients' protocol. */
export {
  startQrexecDaemon,
  QREXEC_SOCKET_NAME,
  EXIT_PROBLEM,
  EXIT_REFUSED,
  EXIT_SERVICE_NOT_FOUND,
} from './daemon.ts';
export type { QrexecDaemon, QrexecDaemonOptions } from './daemon.ts';
export { loadPolicyDirs, parsePolicyText, listPolicyFiles } from './policy-loader.ts';
export { evaluatePolicy, findMatchingRule, verifyIntendedTarget } from './policy-evaluate.ts';
export type { AskAnswer, PolicyDecision, QrexecRequest } from './policy-evaluate.ts';
export type { PolicyRule, PolicyAction } from './policy-rule.ts';
export type { SystemInfo, VmInfo, VmToken } from './policy-tokens.ts';
export { fetchSystemInfo } from './admin-call.ts';
export { SERVICE_TABLE_FILE } from './service-table.ts';
export type { ServiceEntry, ServiceTable } from './service-table.ts';
export { QrexecError, PolicySyntaxError, AccessDenied } from './errors.ts';
export type { QrexecErrorCode } from './errors.ts';
