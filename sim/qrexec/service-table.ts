/**
 * Which qrexec services each simulated VM has, standing in for /etc/qubes-rpc/ in a template's
 * root (inherited by its AppVMs and disposables) and /usr/local/etc/qubes-rpc in a VM's own
 * private volume.
 *
 * Built-in: every TemplateVM has `qubes.PostInstall` (sim/bin/sim-vm-services/qubes-post-install.mjs),
 * and the template of `default-dvm` has `tmpl.Worker` (qrexec-policy/qubes-rpc/tmpl.Worker, the
 * service file tmpl installs, which execs bin/tmpl-worker.mjs).
 *
 * Tests override this with `<sim dir>/qrexec-services.json`:
 *   { "vms": { "<vm>": { "<service>": { "argv": [...], "env": {...}, "readOnlyBinds": [...] } | null } } }
 * An entry for a VM beats anything it inherits; `null` removes the service. `{repo}` in argv, env
 * values and binds is replaced by the repository root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { QrexecError } from './errors.ts';
import type { SystemInfo } from './policy-tokens.ts';

export const SERVICE_TABLE_FILE = 'qrexec-services.json';
const MAX_SERVICE_TABLE_BYTES = 1024 * 1024;

const serviceEntrySchema = z
  .object({
    argv: z.array(z.string().max(4096)).min(1).max(64),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(65536)).optional(),
    readOnlyBinds: z.array(z.string().startsWith('/').max(4096)).max(16).optional(),
  })
  .strict();

const serviceTableSchema = z
  .object({ vms: z.record(z.string().max(64), z.record(z.string().max(64), serviceEntrySchema.nullable())) })
  .strict();

export type ServiceEntry = z.infer<typeof serviceEntrySchema>;
export type ServiceTable = z.infer<typeof serviceTableSchema>;

/** Reads `<dir>/qrexec-services.json`; an absent file is an empty table. */
export function readServiceTable(dir: string): ServiceTable {
  const file = path.join(dir, SERVICE_TABLE_FILE);
  let text: string;
  try {
    if (fs.statSync(file).size > MAX_SERVICE_TABLE_BYTES) {
      throw new QrexecError('qrexec.service', `${file}: larger than ${MAX_SERVICE_TABLE_BYTES} bytes`);
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { vms: {} };
    throw error;
  }
  const parsed = serviceTableSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new QrexecError(
      'qrexec.service',
      `${file}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

export function builtinServices(repoRoot: string): { postInstall: ServiceEntry; worker: ServiceEntry } {
  return {
    postInstall: {
      argv: [process.execPath, path.join(repoRoot, 'sim/bin/sim-vm-services/qubes-post-install.mjs')],
    },
    worker: {
      argv: ['/bin/sh', path.join(repoRoot, 'qrexec-policy/qubes-rpc/tmpl.Worker')],
      env: { TMPL_HOME: repoRoot },
    },
  };
}

function expand(entry: ServiceEntry, repoRoot: string): ServiceEntry {
  const sub = (value: string): string => value.replaceAll('{repo}', repoRoot);
  return {
    argv: entry.argv.map(sub),
    env: entry.env ? Object.fromEntries(Object.entries(entry.env).map(([k, v]) => [k, sub(v)])) : undefined,
    readOnlyBinds: entry.readOnlyBinds?.map(sub),
  };
}

/** The VM and the templates it inherits from: a disposable, its disposable template, that one's template. */
export function inheritanceChain(vm: string, info: SystemInfo): string[] {
  const chain: string[] = [];
  let current: string | null = vm;
  while (current !== null && !chain.includes(current) && chain.length < 4) {
    chain.push(current);
    current = info.domains.get(current)?.template ?? null;
  }
  return chain;
}

/** The service `service` of `vm`, or null when the VM has no such service. */
export function lookupService(
  table: ServiceTable,
  info: SystemInfo,
  vm: string,
  service: string,
  repoRoot: string,
): ServiceEntry | null {
  const builtin = builtinServices(repoRoot);
  const workerTemplate = info.domains.get('default-dvm')?.template ?? null;
  for (const name of inheritanceChain(vm, info)) {
    const entries = table.vms[name];
    if (entries && service in entries) {
      const entry = entries[service];
      return entry ? expand(entry, repoRoot) : null;
    }
    if (service === 'qubes.PostInstall' && info.domains.get(name)?.type === 'TemplateVM')
      return builtin.postInstall;
    if (service === 'tmpl.Worker' && name === workerTemplate) return builtin.worker;
  }
  return null;
}

/**
 * The services `vm` has, sorted: what the real post-install script finds in the template's
 * /etc/qubes-rpc and reports as `supported-rpc.NAME=1` features (sim/bin/sim-vm-services).
 */
export function listServices(table: ServiceTable, info: SystemInfo, vm: string, repoRoot: string): string[] {
  const names = new Set(['qubes.PostInstall', 'tmpl.Worker']);
  for (const name of inheritanceChain(vm, info))
    for (const service of Object.keys(table.vms[name] ?? {})) names.add(service);
  return [...names].filter((service) => lookupService(table, info, vm, service, repoRoot) !== null).sort();
}
