/** The templates on this system, and which of them tmpl (or qvm-template) manages. */
import type { AdminClient } from './admin-client.ts';

export interface InstalledTemplate {
  readonly name: string;
  /** features['template-name'] === name: installed from a package and not renamed. */
  readonly managed: boolean;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
  readonly reponame: string;
  readonly buildtime: string;
  readonly installtime: string;
  readonly license: string;
  readonly url: string;
  readonly summary: string;
  readonly description: string;
}

export async function installedTemplate(admin: AdminClient, name: string): Promise<InstalledTemplate> {
  const f = await admin.getFeatures(name);
  const get = (k: string): string => f.get(`template-${k}`) ?? '';
  const epoch = Number(get('epoch') || '0');
  return {
    name,
    managed: f.get('template-name') === name,
    epoch: Number.isSafeInteger(epoch) ? epoch : 0,
    version: get('version'),
    release: get('release'),
    reponame: get('reponame'),
    buildtime: get('buildtime'),
    installtime: get('installtime'),
    license: get('license'),
    url: get('url'),
    summary: get('summary'),
    description: get('description'),
  };
}

export async function listInstalled(admin: AdminClient): Promise<InstalledTemplate[]> {
  const vms = (await admin.listVms()).filter((vm) => vm.klass === 'TemplateVM');
  const result: InstalledTemplate[] = [];
  for (const vm of vms) result.push(await installedTemplate(admin, vm.name));
  return result;
}

/** qubesadmin's QubesVM.get_disk_utilization: the sum of its volumes' usage. */
export async function diskUtilization(admin: AdminClient, vm: string): Promise<number> {
  const names = (await admin.transport.call({ dest: vm, method: 'admin.vm.volume.List' }))
    .toString('utf8')
    .split('\n')
    .filter((n) => n !== '');
  let total = 0;
  for (const name of names) {
    const usage = Number((await admin.volumeInfo(vm, name)).usage ?? '0');
    if (Number.isSafeInteger(usage) && usage > 0) total += usage;
  }
  return total;
}
