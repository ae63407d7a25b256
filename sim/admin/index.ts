/** The simulated qubesd: Admin API daemon, its state, and the seed installation. */
export { startAdminDaemon } from './daemon.ts';
export { defaultInternalSocketPath } from './paths.ts';
export { volumeImportMain } from './volume-import.ts';
export type { AdminDaemon, AdminDaemonOptions } from './daemon.ts';
export type { PowerHooks } from './api.ts';
export { seedState, SEED_POOL_SIZES, SEED_KERNEL } from './seed.ts';
export { loadState } from './state.ts';
export type { QubesState, VmState, VolumeState, PoolState, PowerState, VmClass } from './state.ts';
export { MAX_REQUEST_BYTES } from './framing.ts';
export { QubesApiError, UnhandledServerError, SimStateError } from './errors.ts';
export type { SimAdminErrorCode } from './errors.ts';
