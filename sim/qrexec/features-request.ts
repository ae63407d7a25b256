/**
 * dom0's side of qubes.FeaturesRequest. On Qubes a VM writes `/features-request/KEY` entries to
 * qubesdb and calls qubes.FeaturesRequest; qubesd's extensions then accept a fixed set of keys
 * (qrexec, gui, os, os-distribution, supported-service.*, ...) and set them as features of the
 * calling VM. The simulated VM sends the entries as `KEY=VALUE` lines on stdin instead.
 * Untrusted: everything on stdin comes from the VM.
 */
import { adminCall } from './admin-call.ts';

/** Largest request the handler reads. */
export const MAX_FEATURES_REQUEST_BYTES = 16 * 1024;

const EXACT_KEYS = new Set([
  'qrexec',
  'gui',
  'gui-emulated',
  'vmexec',
  'os',
  'os-distribution',
  'os-distribution-like',
  'os-version',
  'os-eol',
]);
const PREFIXES = ['supported-service.', 'supported-rpc.', 'supported-feature.'];
const KEY = /^[a-zA-Z0-9_.-]{1,64}$/;
const VALUE = /^[\x20-\x7e]{0,256}$/;

function accepted(key: string): boolean {
  return KEY.test(key) && (EXACT_KEYS.has(key) || PREFIXES.some((prefix) => key.startsWith(prefix)));
}

/** Parses the request; returns the features to set and the lines ignored. */
export function parseFeaturesRequest(input: Buffer): { features: Map<string, string>; rejected: string[] } {
  const features = new Map<string, string>();
  const rejected: string[] = [];
  for (const line of input.toString('latin1').split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    const value = eq < 0 ? '' : line.slice(eq + 1);
    if (eq < 0 || !accepted(key) || !VALUE.test(value)) {
      rejected.push(key.replace(/[^\x20-\x7e]/g, '?').slice(0, 64));
      continue;
    }
    features.set(key, value);
  }
  return { features, rejected };
}

/** Applies a request from `vm` through the Admin API (as qubesd's internal handler would). */
export async function applyFeaturesRequest(
  adminSocketPath: string,
  vm: string,
  input: Buffer,
): Promise<string[]> {
  const { features, rejected } = parseFeaturesRequest(input);
  await dropUnadvertised(adminSocketPath, vm, features);
  for (const [key, value] of features) {
    await adminCall({
      socketPath: adminSocketPath,
      method: 'admin.vm.feature.Set',
      arg: key,
      dest: vm,
      payload: Buffer.from(value, 'latin1'),
    });
  }
  return rejected;
}

/**
 * qubesd's SupportedFeaturesExtension: a request that advertises any `supported-rpc.*` (or
 * `supported-service.*`, `supported-feature.*`) replaces that family, so a service removed from
 * the template loses its feature; a request without one leaves the family alone.
 */
async function dropUnadvertised(
  adminSocketPath: string,
  vm: string,
  features: Map<string, string>,
): Promise<void> {
  const families = PREFIXES.filter((prefix) => [...features.keys()].some((key) => key.startsWith(prefix)));
  if (families.length === 0) return;
  const listed = await adminCall({ socketPath: adminSocketPath, method: 'admin.vm.feature.List', dest: vm });
  for (const name of listed.split('\n')) {
    if (name === '' || features.has(name) || !families.some((prefix) => name.startsWith(prefix))) continue;
    await adminCall({ socketPath: adminSocketPath, method: 'admin.vm.feature.Remove', arg: name, dest: vm });
  }
}
