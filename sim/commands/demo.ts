/**
 * `npm run demo`: the whole job on the simulator. Forges a signed repository of templates,
 * serves it on 127.0.0.1, starts Qubes in a box, and runs the real `tmpl` CLI to list, install
 * through a disposable, upgrade, and show the result; then cleans everything up.
 *
 * By default it runs the repository's built files (bin/tmpl.mjs, and in the disposables
 * qrexec-policy/qubes-rpc/tmpl.Worker with TMPL_HOME the repository). Installed packages instead
 * (test/packaging): TMPL_SIM_TMPL names the tmpl to run (e.g. ROOT/usr/bin/tmpl), and
 * TMPL_SIM_WORKER_ROOT a root tmpl-worker is installed in: the disposables run its
 * ROOT/etc/qubes-rpc/tmpl.Worker with TMPL_HOME=ROOT/usr/lib/tmpl.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { AdminClient, createTransport, resolveQubesEnvironment } from '../../orchestrator/index.ts';
import { SERVICE_TABLE_FILE } from '../qrexec/service-table.ts';
import { createScenario, type Scenario, type ScenarioTemplate } from '../scenario.ts';
import type { SimCommand } from './types.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;

function demoTemplate(name: string, version: string, release: string, seed: string): ScenarioTemplate {
  return {
    name,
    version,
    release,
    image: {
      size: 256 * MiB,
      extents: [
        { offset: 0, length: 4 * MiB, seed: `${seed}-a` },
        { offset: 100 * MiB, length: 2 * MiB, seed: `${seed}-b` },
        { offset: 256 * MiB - 64 * 1024, length: 64 * 1024, seed: `${seed}-c` },
      ],
    },
    compressor: 'zstd',
    partSize: 4 * MiB,
    templateConf: 'gui=1\nqrexec=1\nvirt-mode=pvh\nnet.fake-ip=10.137.0.5\n',
    appmenus: {
      whitelisted: 'org.gnome.Terminal.desktop\nfirefox.desktop\n',
      vm: 'org.gnome.Terminal.desktop\n',
      netvm: '',
    },
    summary: `Demo ${name} template`,
    description: `A ${name} template forged for the tmpl demo.\nIts root image is sparse.`,
    license: 'GPL-2.0-or-later',
    url: 'https://example.invalid/templates',
    canaryPath: '/tmp/tmpl-demo-scriptlet-ran',
  };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Makes the disposables run the tmpl.Worker installed under `root` (service table, service-table.ts). */
async function useInstalledWorker(scenario: Scenario, admin: AdminClient, root: string): Promise<void> {
  const dispvmTemplate = String((await admin.getProperty('default-dvm', 'template')).value);
  const worker = {
    argv: ['/bin/sh', path.join(root, 'etc/qubes-rpc/tmpl.Worker')],
    env: { TMPL_HOME: path.join(root, 'usr/lib/tmpl') },
    readOnlyBinds: [root],
  };
  writeFileSync(
    path.join(scenario.sim.env.TMPL_SIM_DIR!, SERVICE_TABLE_FILE),
    JSON.stringify({ vms: { [dispvmTemplate]: { 'tmpl.Worker': worker } } }),
  );
}

async function demo(): Promise<number> {
  const tmplBin = path.resolve(process.env.TMPL_SIM_TMPL ?? path.join(REPO_ROOT, 'bin/tmpl.mjs'));
  const workerRoot = process.env.TMPL_SIM_WORKER_ROOT;
  const say = (text: string): void => void process.stdout.write(`\n==> ${text}\n`);
  say('Forging a signed repository: fedora-demo 4.2.0-1, fedora-demo 4.2.0-2, debian-demo 4.2.0-1');
  const scenario = await createScenario({
    templates: [
      demoTemplate('fedora-demo', '4.2.0', '1', 'f1'),
      demoTemplate('fedora-demo', '4.2.0', '2', 'f2'),
      demoTemplate('debian-demo', '4.2.0', '1', 'd1'),
    ],
  });
  let status = 0;
  try {
    process.stdout.write(
      `    repository ${scenario.server.url}/ (repomd.xml signed by ${scenario.key.fingerprint})\n`,
    );
    const admin = new AdminClient(createTransport(resolveQubesEnvironment(scenario.env)));
    if (workerRoot !== undefined) await useInstalledWorker(scenario, admin, path.resolve(workerRoot));
    process.stdout.write(`    tmpl: ${tmplBin}; worker: ${workerRoot ?? REPO_ROOT} (tmpl.Worker)\n`);
    const tmpl = async (...args: string[]): Promise<string> => run(true, ...args);
    const tmplFails = async (...args: string[]): Promise<string> => run(false, ...args);
    const run = async (expectSuccess: boolean, ...args: string[]): Promise<string> => {
      process.stdout.write(`\n$ tmpl ${args.join(' ')}\n`);
      try {
        const { stdout, stderr } = await promisify(execFile)(
          process.execPath,
          [tmplBin, ...args, ...scenario.args],
          { env: { ...process.env, ...scenario.env }, maxBuffer: 64 * MiB },
        );
        process.stdout.write(stdout + stderr);
        if (!expectSuccess) {
          process.stdout.write('(it should have failed)\n');
          status = 1;
        }
        return stdout;
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string; code?: number };
        process.stdout.write(`${e.stdout ?? ''}${e.stderr ?? ''}(exit ${e.code})\n`);
        if (expectSuccess) status = 1;
        return '';
      }
    };
    say('Listing the repository through a disposable worker');
    await tmpl('list', '--available');
    say(
      'Installing fedora-demo at 4.2.0-1 (the worker unpacks in a disposable; dom0 imports verified bytes only)',
    );
    await tmpl('install', '--skip-start', 'fedora-demo-4.2.0-1');
    say('Upgrading it to the latest version');
    await tmpl('upgrade', '--yes', 'fedora-demo');
    say('What is installed now');
    await tmpl('list', '--installed');
    await tmpl('info', '--installed', '--machine-readable');

    const rootDigest = async (): Promise<string> =>
      sha256File((await admin.volumeInfo('fedora-demo', 'root')).path!);
    say('The template as Qubes sees it (features written as qvm-template writes them)');
    for (const [name, value] of await admin.getFeatures('fedora-demo'))
      process.stdout.write(`    ${name.padEnd(26)} ${value}\n`);
    const leftovers = (await admin.listVms()).filter((vm) => vm.name.startsWith('disp'));
    process.stdout.write(`    disposables left running: ${leftovers.length}\n`);

    say("An attacker replaces the mirror's fedora-demo 4.2.0-3 with one whose last image part is corrupt");
    await scenario.addTemplates([
      { ...demoTemplate('fedora-demo', '4.2.0', '3', 'f3'), mutations: { corruptLastPart: {} } },
    ]);
    const before = await rootDigest();
    await tmplFails('upgrade', '--yes', 'fedora-demo');
    const after = await rootDigest();
    process.stdout.write(
      `    root volume sha256 before ${before.slice(0, 16)}..., after ${after.slice(0, 16)}...: ${before === after ? 'unchanged' : 'CHANGED'}\n`,
    );
    if (before !== after) status = 1;
    say(status === 0 ? 'Demo finished: every step succeeded.' : 'Demo finished with errors.');
  } finally {
    await scenario.close();
  }
  return status;
}

export const demoCommand: SimCommand = {
  name: 'demo',
  summary:
    'run the whole job on the simulator: forge, serve, list, install, upgrade, refuse a tampered package',
  run: () => demo(),
};
