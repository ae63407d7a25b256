/**
 * Attack: a half-upgraded template. A packager who signs validly ships a template.conf or an
 * appmenu list that tmpl refuses (CRLF, a duplicate key, a byte outside ASCII, a bad menu item
 * name). If the refusal came after the import committed, the upgrade would fail with the new
 * root volume in place, the private volume cleared and the template-* features naming the old
 * version. The whole configuration is planned before the image's last chunk is released: the
 * upgrade fails with the file's code and nothing changed. And when something after the import
 * fails (qubes.PostInstall), the properties and features get their old values back and the
 * root and private volumes are reverted to the revisions the pool kept.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { Scenario, ScenarioTemplate } from '../../sim/scenario.ts';
import {
  defineAttack,
  fileSha256,
  imageSha256,
  MiB,
  plantTemplate,
  postInstallServices,
  setServices,
  Qubes,
  smallTemplate,
  type AttackCase,
} from '../helpers/kit/index.ts';

const GOOD_CONF = 'gui=1\nqrexec=1\nvirt-mode=hvm\n';
const BAD: Record<string, { conf?: string; appmenu?: string; code: string }> = {
  'victim-crlf': { conf: 'gui=1\r\nqrexec=1\r\nvirt-mode=hvm\r\n', code: 'template.conf' },
  'victim-dup': { conf: 'gui=1\nvirt-mode=hvm\ngui=1\n', code: 'template.conf' },
  'victim-utf8': { conf: 'gui=1\nnet.fake-ip=10.137.0.5\u00a0\n', code: 'template.conf' },
  'victim-menu': { appmenu: 'firefox.desktop\nmy evil.desktop\n', code: 'template.appmenu' },
};
const POST_INSTALL_VICTIM = 'victim-post';
/** In a `file` pool, which keeps no revision at an import: the root cannot be reverted. */
const NO_REVISION_VICTIM = 'victim-norev';
/** A btrfs-like pool (sim/admin/seed.ts): imports and clears keep a revision to revert to. */
const REFLINK_POOL = 'reflink';
const MARKER = Buffer.from('private data the user keeps in this template\n');
const PROPERTIES = ['installed_by_rpm', 'virt_mode', 'kernel', 'netvm', 'label'] as const;

let scenario: Scenario;
/** The rollback record written before the attacks: no refused upgrade may change it. */
let floor: Buffer;
const templates = new Map<string, TemplateState>();

interface TemplateState {
  readonly root: string;
  readonly privateHead: string;
  readonly privateSize: number;
  readonly features: Map<string, string>;
  readonly properties: Record<string, { isDefault: boolean; value: string }>;
}

/** The image file of a volume: the file pool's `path`, a reflink volume's clean image. */
async function volumeFile(vm: string, volume: string): Promise<string> {
  const qubes = Qubes.of(scenario);
  const info = await qubes.volumeInfo(vm, volume);
  if (info.pool !== REFLINK_POOL) return qubes.volumePath(vm, volume);
  return path.join(scenario.sim.env.TMPL_SIM_DIR!, 'pools', REFLINK_POOL, `${info.vid}.img`);
}

async function headSha256(file: string, bytes: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return createHash('sha256').update(buffer.subarray(0, bytesRead)).digest('hex');
  } finally {
    await handle.close();
  }
}

async function templateState(name: string): Promise<TemplateState> {
  const qubes = Qubes.of(scenario);
  const privateFile = await volumeFile(name, 'private');
  const properties: TemplateState['properties'] = {};
  for (const p of PROPERTIES) properties[p] = await qubes.propertyInfo(name, p);
  return {
    root: await fileSha256(await volumeFile(name, 'root')),
    privateHead: await headSha256(privateFile, 1024 * 1024),
    privateSize: (await stat(privateFile)).size,
    features: await qubes.features(name),
    properties,
  };
}

async function expectTemplateAsBefore(name: string): Promise<void> {
  const now = await templateState(name);
  const then = templates.get(name)!;
  expect(now.root, `${name} root`).toBe(then.root);
  expect(now.privateHead, `${name} private`).toBe(then.privateHead);
  expect(now.privateSize).toBe(then.privateSize);
  expect(Object.fromEntries(now.features)).toEqual(Object.fromEntries(then.features));
  expect(now.properties).toEqual(then.properties);
}

function rollbackFile(): string {
  return path.join(scenario.dir, 'tmpl-state', 'rollback-floor.json');
}

/** smallTemplate with a 4 MiB image: ten packages and imports stay quick. */
function tinyTemplate(name: string, release: string, seed: string, extra: Partial<ScenarioTemplate> = {}) {
  const size = 4 * MiB;
  return smallTemplate(name, '4.2.0', release, seed, {
    image: {
      size,
      extents: [
        { offset: 0, length: 64 * 1024, seed: `${seed}-a` },
        { offset: size - 4096, length: 4096, seed: `${seed}-b` },
      ],
    },
    ...extra,
  });
}

const planted = (name: string) => tinyTemplate(name, '1', `${name}-planted`);

const names = [...Object.keys(BAD), POST_INSTALL_VICTIM, NO_REVISION_VICTIM];

const refusedConfigurations: AttackCase[] = Object.entries(BAD).map(([name, bad]) => ({
  name: `${name}: the code of the file, and the template as it was`,
  argv: ['upgrade', '--yes', name],
  code: bad.code,
  check: async () => {
    await expectTemplateAsBefore(name);
    expect(await readFile(rollbackFile())).toEqual(floor);
  },
}));

defineAttack(
  'tmpl-sec-half-',
  {
    templates: names.map((name) => {
      const bad = BAD[name];
      return tinyTemplate(name, '2', `${name}-new`, {
        templateConf: bad?.conf ?? GOOD_CONF,
        ...(bad?.appmenu ? { appmenus: { whitelisted: bad.appmenu, vm: '', netvm: '' } } : {}),
      });
    }),
    prepare: async (s) => {
      scenario = s;
      for (const name of names)
        await plantTemplate(s, planted(name), name === POST_INSTALL_VICTIM ? REFLINK_POOL : undefined);
      // What the user keeps in the private volumes, which a clear would wipe.
      for (const name of names) {
        const handle = await open(await volumeFile(name, 'private'), 'r+');
        await handle.write(MARKER, 0, MARKER.length, 4096);
        await handle.close();
      }
      // The rollback record of an earlier tmpl install of the planted versions.
      await mkdir(path.dirname(rollbackFile()), { recursive: true });
      const floorRecord = Object.fromEntries(
        names.map((n) => [n, { epoch: 0, version: '4.2.0', release: '1' }]),
      );
      await writeFile(rollbackFile(), JSON.stringify({ version: 1, templates: floorRecord }, null, 2) + '\n');
      floor = await readFile(rollbackFile());
      // qubes.PostInstall of the reverted victim fails (sim/bin/sim-vm-services/qubes-post-install.mjs).
      await setServices(
        s,
        postInstallServices([POST_INSTALL_VICTIM, NO_REVISION_VICTIM], { TMPL_SIM_POST_INSTALL_FAIL: '3' }),
      );
      for (const name of names) templates.set(name, await templateState(name));
      // The planted root volumes are the planted images, not the packages' ones.
      for (const name of names)
        expect(templates.get(name)!.root).toBe(await imageSha256(planted(name).image));
    },
    setupTimeoutMs: 300_000,
  },
  [
    // A signed package whose configuration tmpl refuses: refused before the import commits.
    ...refusedConfigurations,
    {
      name: 'qubes.PostInstall fails after the import: old properties and features, root and private reverted',
      argv: ['upgrade', '--yes', POST_INSTALL_VICTIM],
      code: 'template.post-install',
      check: async () => {
        await expectTemplateAsBefore(POST_INSTALL_VICTIM);
        expect(await readFile(rollbackFile())).toEqual(floor);
        expect((await Qubes.of(scenario).vms()).find((v) => v.name === POST_INSTALL_VICTIM)?.state).toBe(
          'Halted',
        );
        // revisions_to_keep was raised for the run (its shutdown commits and prunes) and set back
        for (const volume of ['root', 'private'])
          expect((await Qubes.of(scenario).volumeInfo(POST_INSTALL_VICTIM, volume)).revisions_to_keep).toBe(
            '1',
          );
      },
    },
    {
      name: 'qubes.PostInstall fails and the pool kept no revision: template.not-reverted, old configuration, new root',
      argv: ['upgrade', '--yes', NO_REVISION_VICTIM],
      code: 'template.not-reverted',
      check: async () => {
        const now = await templateState(NO_REVISION_VICTIM);
        const then = templates.get(NO_REVISION_VICTIM)!;
        const newPackage = tinyTemplate(NO_REVISION_VICTIM, '2', `${NO_REVISION_VICTIM}-new`);
        expect(now.root).toBe(await imageSha256(newPackage.image));
        expect(Object.fromEntries(now.features)).toEqual(Object.fromEntries(then.features));
        expect(now.properties).toEqual(then.properties);
        expect(await readFile(rollbackFile())).toEqual(floor);
      },
    },
  ],
);
