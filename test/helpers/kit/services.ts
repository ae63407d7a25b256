/**
 * The qrexec services of the simulated VMs, as tests replace them through the simulator's
 * service table (sim/qrexec/service-table.ts): the disposables' tmpl.Worker (the real one or
 * test/helpers/lying-worker.ts) and a template's qubes.PostInstall.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Scenario } from '../../../sim/scenario.ts';
import {
  SERVICE_TABLE_FILE,
  type ServiceEntry,
  type ServiceTable,
} from '../../../sim/qrexec/service-table.ts';

export type { ServiceEntry };

/** Replaces the whole service table: per VM, its services (`null`: the VM has none by that name). */
export async function setServices(scenario: Scenario, vms: ServiceTable['vms']): Promise<void> {
  await writeFile(path.join(scenario.sim.env.TMPL_SIM_DIR!, SERVICE_TABLE_FILE), JSON.stringify({ vms }));
}

/**
 * Replaces the tmpl.Worker service of the disposables' template (default-dvm) through the
 * simulator's service table; `null` restores the built-in worker (and every other service).
 */
export async function setWorkerService(scenario: Scenario, entry: ServiceEntry | null): Promise<void> {
  await setServices(scenario, entry ? { 'default-dvm': { 'tmpl.Worker': entry } } : {});
}

/** test/helpers/lying-worker.ts as the disposable's tmpl.Worker, telling `lie`. */
export function lyingWorker(
  lie: string,
  env: Record<string, string> = {},
  binds: string[] = [],
): ServiceEntry {
  return {
    argv: [process.execPath, '{repo}/bin/run-ts.mjs', '{repo}/test/helpers/lying-worker.ts'],
    env: { TMPL_LIE: lie, ...env },
    ...(binds.length > 0 ? { readOnlyBinds: binds } : {}),
  };
}

/**
 * The simulator's qubes.PostInstall (sim/bin/sim-vm-services/qubes-post-install.mjs) for each of
 * `vms`, with `env` (e.g. TMPL_SIM_POST_INSTALL_DELAY_MS, TMPL_SIM_POST_INSTALL_FAIL).
 */
export function postInstallServices(
  vms: readonly string[],
  env: Record<string, string>,
): ServiceTable['vms'] {
  const entry: ServiceEntry = {
    argv: [process.execPath, '{repo}/sim/bin/sim-vm-services/qubes-post-install.mjs'],
    env,
  };
  return Object.fromEntries(vms.map((vm) => [vm, { 'qubes.PostInstall': entry }]));
}
