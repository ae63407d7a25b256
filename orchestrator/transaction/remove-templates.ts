/**
 * `tmpl remove`/`purge` against the Admin API: gathers the facts remove-plan.ts plans with
 * (the VMs, which templates are managed, what depends on what, existing dummy templates) and
 * carries the plan out.
 */
import type { AdminClient } from '../qubes/admin-client.ts';
import { installedTemplate } from '../qubes/installed-templates.ts';
import { vmDependencies, type Dependency } from '../qubes/vm-dependencies.ts';
import {
  checkRemoveTargets,
  dummyCandidates,
  needsDummy,
  planRemove,
  type RemovePlan,
} from './remove-plan.ts';

export interface RemoveOptions {
  readonly purge: boolean;
  readonly force: boolean;
  readonly disassoc: boolean;
}

/** What depends on each named VM and, when following (purge), on each VM found through them. */
async function dependencyGraph(
  admin: AdminClient,
  names: readonly string[],
  follow: boolean,
): Promise<Map<string, Dependency[]>> {
  const graph = new Map<string, Dependency[]>();
  const queue = [...names];
  for (let vm = queue.shift(); vm !== undefined; vm = queue.shift()) {
    if (graph.has(vm)) continue;
    const dependencies = await vmDependencies(admin, vm);
    graph.set(vm, dependencies);
    if (follow) for (const d of dependencies) if (d.holder !== undefined) queue.push(d.holder);
  }
  return graph;
}

/** The dummy template to re-point to: an existing one marked template-dummy=1, else a new one. */
async function chooseDummy(admin: AdminClient, existing: ReadonlySet<string>) {
  const { taken, free } = dummyCandidates(existing);
  for (const name of taken) {
    if ((await admin.getFeature(name, 'template-dummy')) === '1') return { name, create: false };
  }
  return { name: free, create: true };
}

/** The plan for removing `names`; throws (changing nothing) if they may not be removed. */
export async function prepareRemove(
  admin: AdminClient,
  names: readonly string[],
  options: RemoveOptions,
): Promise<RemovePlan> {
  // A usage error (no name) is reported before the Admin API is asked anything.
  if (names.length === 0) checkRemoveTargets(names, new Map(), new Set(), options.force);
  const vms = new Map((await admin.listVms()).map((v) => [v.name, v]));
  const managed = new Set<string>();
  for (const name of names) {
    if (options.force || vms.get(name)?.klass !== 'TemplateVM') continue;
    if ((await installedTemplate(admin, name)).managed) managed.add(name);
  }
  checkRemoveTargets(names, vms, managed, options.force);
  const dependencies = await dependencyGraph(admin, names, options.purge);
  const { remove, repoint } = planRemove({ ...options, names, dependencies });
  const dummy = needsDummy(repoint) ? await chooseDummy(admin, new Set(vms.keys())) : undefined;
  return { remove, repoint, dummy: dummy?.name, createDummy: dummy?.create ?? false };
}

/** Creates the dummy, re-points the users, halts and removes the VMs, dependents first. */
export async function executeRemove(admin: AdminClient, p: RemovePlan): Promise<void> {
  if (p.createDummy && p.dummy) {
    await admin.createTemplate(p.dummy, 'red');
    await admin.setFeature(p.dummy, 'template-dummy', '1');
  }
  for (const d of p.repoint) {
    if (d.holder === undefined) await admin.setGlobalProperty(d.property, '');
    else await admin.setProperty(d.holder, d.property, p.dummy!);
  }
  for (const name of p.remove) {
    try {
      await admin.kill(name);
    } catch {
      // already halted
    }
  }
  // Dependents first: purge found them breadth-first from the template, and Qubes refuses to
  // remove a VM that another VM still uses.
  for (const name of [...p.remove].reverse()) await admin.removeVm(name);
}
