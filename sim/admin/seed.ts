/**
 * A small Qubes installation to start from: dom0, two templates, sys-net, sys-firewall (the
 * updatevm), work, personal, a management qube and a disposable template, two file pools.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { addNewVm } from './lifecycle.ts';
import { QubesModel } from './model.ts';
import { PROPERTY_READER } from './properties.ts';
import { saveState, type PropValue, type QubesState } from './state.ts';

const GiB = 1024 * 1024 * 1024;
/** Capacities of the simulated pools; pool2 is small so that running out of space is cheap. */
export const SEED_POOL_SIZES = { varlibqubes: 256 * GiB, pool2: 1 * GiB, reflink: 64 * GiB } as const;
export const SEED_KERNEL = '6.6.48-1.fc37';

/** qubes/app.py's built-in labels. */
const LABELS = [
  ['red', '0xcc0000'],
  ['orange', '0xf57900'],
  ['yellow', '0xedd400'],
  ['green', '0x73d216'],
  ['gray', '0x555555'],
  ['blue', '0x3465a4'],
  ['purple', '0x75507b'],
  ['black', '0x000000'],
] as const;

/**
 * A seeded template's features, as its qubes.PostInstall reported them: `supported-rpc.NAME` for
 * each service in its /etc/qubes-rpc (sim/qrexec/service-table.ts: debian-12-xfce, the template
 * of default-dvm, has tmpl-worker installed).
 */
function templateFeatures(
  name: string,
  release: string,
  services: readonly string[],
): Record<string, string> {
  return {
    ...Object.fromEntries(services.map((service) => [`supported-rpc.${service}`, '1'])),
    qrexec: '1',
    gui: '1',
    os: 'Linux',
    // What a Qubes 4.3 template's agent reports (qubes.FeaturesRequest); preloading needs both.
    'supported-rpc.qubes.WaitForRunningSystem': '1',
    'supported-rpc.qubes.WaitForSession': '1',
    'template-name': name,
    'template-epoch': '0',
    'template-version': '4.3.0',
    'template-release': release,
    'template-reponame': 'qubes-templates-itl',
    'template-buildtime': '2025-01-15 10:00:00',
    'template-installtime': '2025-02-01 09:30:00',
    'template-license': 'GPLv3+',
    'template-url': 'https://www.qubes-os.org',
    'template-summary': `Qubes OS template for ${name}`,
    'template-description': `Qubes OS template for ${name}`,
  };
}

/**
 * Writes a fresh seed state into `dir` (replacing any earlier state and pools there) and
 * returns it.
 */
export async function seedState(dir: string): Promise<QubesState> {
  const root = path.resolve(dir);
  await fs.mkdir(root, { recursive: true });
  await fs.rm(path.join(root, 'pools'), { recursive: true, force: true });
  const poolDir = (name: string) => path.join(root, 'pools', name);
  for (const name of ['varlibqubes', 'pool2', 'reflink', 'linux-kernel']) {
    await fs.mkdir(poolDir(name), { recursive: true });
  }
  const state: QubesState = {
    version: 1,
    props: {},
    labels: LABELS.map(([name, color], i) => ({ index: i + 1, color, name })),
    pools: [
      {
        name: 'varlibqubes',
        driver: 'file',
        dirPath: poolDir('varlibqubes'),
        size: SEED_POOL_SIZES.varlibqubes,
        revisionsToKeep: 1,
        ephemeralVolatile: false,
      },
      {
        name: 'pool2',
        driver: 'file',
        dirPath: poolDir('pool2'),
        size: SEED_POOL_SIZES.pool2,
        revisionsToKeep: 1,
        ephemeralVolatile: false,
      },
      {
        // A btrfs pool as a Qubes installer makes it: imports and clears keep a revision.
        name: 'reflink',
        driver: 'file-reflink',
        dirPath: poolDir('reflink'),
        size: SEED_POOL_SIZES.reflink,
        revisionsToKeep: 1,
        ephemeralVolatile: false,
      },
      {
        name: 'linux-kernel',
        driver: 'linux-kernel',
        dirPath: poolDir('linux-kernel'),
        size: null,
        revisionsToKeep: 0,
        ephemeralVolatile: false,
      },
    ],
    vms: [
      {
        name: 'dom0',
        klass: 'AdminVM',
        qid: 0,
        uuid: '00000000-0000-0000-0000-000000000000',
        powerState: 'Running',
        props: { label: 'black' },
        features: {},
        tags: [],
        volumes: {},
      },
    ],
  };
  const model = new QubesModel(root, state, PROPERTY_READER);
  state.props = { default_pool: 'varlibqubes', default_kernel: SEED_KERNEL };

  const add = async (
    klass: 'TemplateVM' | 'AppVM',
    name: string,
    label: string,
    template: string | null,
    props: Record<string, PropValue> = {},
    features: Record<string, string> = {},
  ) => {
    const vm = await addNewVm(model, {
      klass,
      name,
      label,
      template: template ? model.vm(template) : null,
      props,
    });
    vm.tags.push('created-by-dom0');
    Object.assign(vm.features, features);
    return vm;
  };
  await add(
    'TemplateVM',
    'fedora-41-xfce',
    'black',
    null,
    { installed_by_rpm: true },
    templateFeatures('fedora-41-xfce', '202501151000', ['qubes.PostInstall']),
  );
  await add(
    'TemplateVM',
    'debian-12-xfce',
    'black',
    null,
    { installed_by_rpm: true },
    templateFeatures('debian-12-xfce', '202501151000', ['qubes.PostInstall', 'tmpl.Worker']),
  );
  await add('AppVM', 'sys-net', 'red', 'fedora-41-xfce', { provides_network: true, netvm: null });
  await add('AppVM', 'sys-firewall', 'green', 'fedora-41-xfce', { provides_network: true, netvm: 'sys-net' });
  state.props.default_netvm = 'sys-firewall';
  state.props.updatevm = 'sys-firewall';
  state.props.clockvm = 'sys-net';
  state.props.default_template = 'fedora-41-xfce';
  await add('AppVM', 'work', 'blue', 'fedora-41-xfce');
  await add('AppVM', 'personal', 'yellow', 'fedora-41-xfce');
  await add(
    'AppVM',
    'default-dvm',
    'red',
    'debian-12-xfce',
    { template_for_dispvms: true },
    { appmenus_dispvm: '1' },
  );
  await add('AppVM', 'mgmt', 'black', 'fedora-41-xfce', { netvm: null });
  state.props.default_dispvm = 'default-dvm';
  state.props.management_dispvm = 'default-dvm';
  await saveState(root, state);
  return state;
}
