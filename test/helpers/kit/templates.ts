/**
 * Template builders: the templates a scenario's repository serves (smallTemplate), the bytes and
 * sha256 of the image one describes, the template-* features qvm-template writes, and a managed
 * template put in place without tmpl (plantTemplate), as an earlier install would have left it.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import path from 'node:path';
import { execa } from 'execa';
import { seededBytes, type ImageExtent, type ImageSpec } from '../../../sim/forge/index.ts';
import { SCENARIO_REPO_ID, type Scenario, type ScenarioTemplate } from '../../../sim/scenario.ts';
import { ok } from '../admin-raw-client.ts';
import { fileSha256 } from './qubes-view.ts';
import { MiB } from './run.ts';

/**
 * A small template: a 24 MiB sparse image with ~2.1 MiB of data in three extents (the last one
 * ends the image), split into 1 MiB parts, with template.conf and menu lists.
 */
export function smallTemplate(
  name: string,
  version: string,
  release: string,
  seed: string,
  extra: Partial<ScenarioTemplate> = {},
): ScenarioTemplate {
  const size = 24 * MiB;
  return {
    name,
    version,
    release,
    image: {
      size,
      extents: [
        { offset: 0, length: MiB + 4096, seed: `${seed}-a` },
        { offset: 9 * MiB + 512, length: MiB, seed: `${seed}-b` },
        { offset: size - 64 * 1024, length: 64 * 1024, seed: `${seed}-c` },
      ],
    },
    compressor: 'zstd',
    partSize: MiB,
    templateConf: 'gui=1\nqrexec=1\nvirt-mode=hvm\nnet.fake-ip=10.137.0.5\nbogus-key=1\n',
    appmenus: {
      whitelisted: 'org.gnome.Terminal.desktop\nfirefox.desktop\n',
      vm: 'org.gnome.Terminal.desktop\n',
      netvm: 'nm-connection-editor.desktop\n',
    },
    summary: `Test template ${name}`,
    description: `A ${name} template forged for end-to-end tests.\nSecond line.`,
    license: 'GPL-2.0-or-later',
    url: 'https://example.invalid/templates',
    ...extra,
  };
}

/** The dense bytes of an image an ImageSpec describes (extents in order, zeros between). */
export async function* denseImage(spec: {
  size: number;
  extents: readonly ImageExtent[];
}): AsyncGenerator<Uint8Array> {
  const zeros = new Uint8Array(MiB);
  function* fill(n: number): Generator<Uint8Array> {
    for (let left = n; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
  }
  let position = 0;
  for (const extent of [...spec.extents].sort((a, b) => a.offset - b.offset)) {
    if (extent.offset < position) throw new Error('overlapping extents');
    yield* fill(extent.offset - position);
    if ('bytes' in extent) {
      yield extent.bytes;
      position = extent.offset + extent.bytes.length;
    } else {
      yield* seededBytes(extent.seed, extent.length);
      position = extent.offset + extent.length;
    }
  }
  yield* fill(spec.size - position);
}

/** sha256 of the dense image an ImageSpec describes. */
export async function imageSha256(spec: ImageSpec): Promise<string> {
  if ('path' in spec) return fileSha256(spec.path);
  const hash = createHash('sha256');
  for await (const chunk of denseImage(spec)) hash.update(chunk);
  return hash.digest('hex');
}

/** The template-* features qvm-template (and tmpl) write, for a template made by hand. */
export function managedFeatures(
  name: string,
  evr: { epoch?: number; version: string; release: string },
  extra: Partial<Record<string, string>> = {},
): Record<string, string> {
  const features: Record<string, string> = {
    'template-name': name,
    'template-epoch': String(evr.epoch ?? 0),
    'template-version': evr.version,
    'template-release': evr.release,
    'template-reponame': SCENARIO_REPO_ID,
    'template-buildtime': '2026-01-01 00:00:00',
    'template-installtime': '2026-01-02 03:04:05',
    'template-license': 'GPL-2.0-or-later',
    'template-url': 'https://example.invalid/templates',
    'template-summary': `Template ${name}`,
    'template-description': `Template ${name}|made by hand`,
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) features[k] = v;
  return features;
}

/** Imports `image` as VM `name`'s root volume through the simulator's dom0 import service. */
async function importRoot(
  scenario: Scenario,
  name: string,
  image: { size: number; extents: readonly ImageExtent[] },
) {
  const script = path.join(scenario.sim.env.TMPL_QREXEC_SERVICES_DIR!, 'admin.vm.volume.ImportWithSize');
  const importing = execa(script, ['root'], {
    env: { ...scenario.env, QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_REQUESTED_TARGET: name },
    input: Readable.from(
      (async function* () {
        yield new TextEncoder().encode(`${image.size}\n`);
        yield* denseImage(image);
      })(),
    ),
    encoding: 'buffer',
  });
  const reply = Buffer.from((await importing).stdout);
  if (reply[0] !== 0x30) throw new Error(`planting ${name}: import failed: ${reply.toString('latin1')}`);
}

/**
 * Puts a managed template in place without tmpl, as a previous install would have left it: a
 * TemplateVM labelled black, its root volume imported through the simulator's dom0 import
 * service, the template-* features of `template` (so tmpl sees it at that EVR) and
 * installed_by_rpm False. Attacks on reinstall/upgrade start from this state. `pool`: where its
 * volumes go (default: default_pool).
 */
export async function plantTemplate(
  scenario: Scenario,
  template: ScenarioTemplate,
  pool?: string,
): Promise<void> {
  const socket = scenario.sim.env.TMPL_QUBESD_SOCKET!;
  const name = template.name;
  await ok(
    socket,
    pool
      ? { method: 'admin.vm.CreateInPool.TemplateVM', payload: `name=${name} label=black pool=${pool}` }
      : { method: 'admin.vm.Create.TemplateVM', payload: `name=${name} label=black` },
  );
  if ('path' in template.image) throw new Error('plantTemplate needs an extent image');
  await importRoot(scenario, name, template.image);
  const features = managedFeatures(name, template, {
    'template-installtime': '2026-01-02 00:00:00',
    'template-license': template.license ?? 'GPLv3+',
    'template-url': template.url ?? 'https://www.qubes-os.org',
    'template-summary': template.summary ?? name,
    'template-description': (template.description ?? name).replace(/\n/g, '|'),
  });
  for (const [feature, value] of Object.entries(features))
    await ok(socket, { method: 'admin.vm.feature.Set', dest: name, arg: feature, payload: value });
  await ok(socket, {
    method: 'admin.vm.property.Set',
    dest: name,
    arg: 'installed_by_rpm',
    payload: 'False',
  });
}
