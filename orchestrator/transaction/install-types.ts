/**
 * The types of one template install: its context (Admin API, logger, where the worker runs,
 * interruption, progress), its source (a repository package or a local file), its options and
 * its result. install-template.ts re-exports them.
 */
import type { Logger } from 'pino';
import type { PublicKey } from 'openpgp';
import type { RepoConfig } from '../../protocol/messages.ts';
import type { AdminClient } from '../qubes/admin-client.ts';
import type { QubesEnvironment } from '../qubes/environment.ts';
import type { ExpectedPackage, VerifiedHead } from '../verify/receive-template.ts';
import type { TransferLimits } from '../verify/transfer-watchdog.ts';
import type { WorkerPlacement } from '../worker/session.ts';
import type { InstallMode } from '../repos/package-choice.ts';

export interface InstallContext {
  readonly admin: AdminClient;
  readonly env: QubesEnvironment;
  readonly log: Logger;
  readonly placement: WorkerPlacement;
  readonly releasever: string;
  readonly idleTimeoutMs?: number;
  readonly transferLimits?: Partial<TransferLimits>;
  /** The run's interruption (interrupt.ts): closes the worker, ends a post-install call. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (template: string, stage: string, done: number, total: number | undefined) => void;
}

export type { InstallMode };

export interface InstallOptions {
  readonly mode: InstallMode;
  readonly pool?: string;
  readonly allowPv: boolean;
  readonly skipStart: boolean;
  readonly nogpgcheck: boolean;
  /** Keys trusted for this package (its repository's, or --keyring for a local file). */
  readonly keys: readonly PublicKey[];
  /** Checked once the verified header is known, before anything changes (rollback protection). */
  readonly checkVersion?: (head: VerifiedHead, existing: boolean) => Promise<void>;
}

export type InstallSource =
  | {
      readonly kind: 'repo';
      readonly repo: RepoConfig;
      readonly repos: readonly RepoConfig[];
      readonly package: ExpectedPackage & { repoid: string };
    }
  | { readonly kind: 'file'; readonly path: string; readonly repo: RepoConfig };

export interface InstallResult {
  readonly template: string;
  readonly head: VerifiedHead;
  readonly created: boolean;
  readonly warnings: readonly string[];
}
