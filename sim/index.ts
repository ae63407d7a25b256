/** Qubes in a box: entry points of the simulator. */
export { startSimulator, ADMIN_SOCKET_NAME, READY_FILE, SIM_BIN_DIR } from './simulator.ts';
export type { Simulator, SimulatorOptions } from './simulator.ts';
export {
  startAdminDaemon,
  seedState,
  defaultInternalSocketPath,
  MAX_REQUEST_BYTES,
  QubesApiError,
  SimStateError,
} from './admin/index.ts';
export type { AdminDaemon, AdminDaemonOptions, PowerHooks, QubesState } from './admin/index.ts';
export {
  startQrexecDaemon,
  loadPolicyDirs,
  parsePolicyText,
  evaluatePolicy,
  fetchSystemInfo,
} from './qrexec/index.ts';
export type {
  QrexecDaemon,
  QrexecDaemonOptions,
  PolicyDecision,
  PolicyRule,
  SystemInfo,
} from './qrexec/index.ts';
