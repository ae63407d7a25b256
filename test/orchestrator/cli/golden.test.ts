/**
 * Golden outputs of `list`, `info`, `search` and `repolist` in every form qvm-template prints
 * (human tables, `--machine-readable`, `--machine-readable-json`), against a signed forged
 * repository listed through a disposable and templates installed by hand with fixed features.
 * The data is fixed (buildtimes, install times); package sizes, which depend on the signature,
 * are checked against the forged files and then replaced by placeholders.
 *
 * test/orchestrator/cli/incumbent/qvm-template-golden.py prints qvm-template's own output for the same data:
 * it is byte-identical to these snapshots except where tmpl deliberately differs (a '|' inside a
 * --machine-readable field other than the last is shown as '?').
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { createScenario, type Scenario, type ScenarioTemplate } from '../../../sim/scenario.ts';
import {
  expectSuccess,
  managedFeatures,
  Qubes,
  runTmpl,
  RUN_TIMEOUT_MS,
  type TmplRun,
} from '../../helpers/kit/index.ts';

const KiB = 1024;
const SNAPSHOTS = path.join(import.meta.dirname, '__snapshots__', 'golden');

function tiny(name: string, release: string, extra: Partial<ScenarioTemplate> = {}): ScenarioTemplate {
  return {
    name,
    version: '4.3.0',
    release,
    image: { size: 256 * KiB, extents: [{ offset: 0, length: 16 * KiB, seed: `${name}-${release}` }] },
    summary: `Qubes template for ${name}`,
    description: `Qubes template for ${name}.`,
    license: 'GPL-2.0-or-later',
    url: 'https://www.qubes-os.org/',
    buildtime: 1_767_225_600,
    ...extra,
  };
}

const TEMPLATES: ScenarioTemplate[] = [
  tiny('fedora-42-xfce', '202601010000', { buildtime: 1_767_225_600 }),
  tiny('fedora-42-xfce', '202602010000', { buildtime: 1_769_904_000 }),
  tiny('fedora-42-minimal', '202601010000', {
    summary: 'Minimal Fedora 42 template',
    description: 'A minimal Fedora template.\nSee https://www.qubes-os.org/doc/templates/minimal/',
  }),
  tiny('debian-13-xfce', '202601150000', {
    buildtime: 1_768_435_200,
    // a licence expression with spaces, a '|' in the summary and in the description
    license: 'GPL-2.0-or-later AND MIT',
    summary: 'Debian 13 | Xfce',
    description: 'First line of the description.\nSecond line | with a bar.',
  }),
  tiny('whonix-gateway-18', '202601200000', {
    epoch: 1,
    buildtime: 1_768_867_200,
    summary: 'Whonix Gateway',
    description: 'Anonymity through Tor (fedora-free).',
    url: 'https://www.whonix.org/',
  }),
];

let scenario: Scenario;
let qubes: Qubes;
let sizes: Map<string, number>;

beforeAll(async () => {
  scenario = await createScenario({ templates: TEMPLATES });
  qubes = Qubes.of(scenario);
  sizes = new Map(scenario.packages.map((p) => [p.fileName, p.size]));
  // Installed by hand as qvm-template would have: managed, one version behind.
  await qubes.createTemplate(
    'fedora-42-xfce',
    managedFeatures(
      'fedora-42-xfce',
      { version: '4.3.0', release: '202601010000' },
      {
        'template-summary': 'Qubes template for fedora-42-xfce',
        'template-description': 'Qubes template for fedora-42-xfce.',
        'template-license': 'GPL-2.0-or-later',
        'template-url': 'https://www.qubes-os.org/',
      },
    ),
  );
  // Not managed: no template-name feature, and a renamed copy whose template-name is another name.
  await qubes.createTemplate('my-custom-template');
  await qubes.createTemplate(
    'fedora-42-clone',
    managedFeatures('fedora-42-xfce', { version: '4.3.0', release: '1' }),
  );
  // A second repository file: a disabled repository, for repolist --all.
  await writeFile(
    path.join(scenario.dir, 'disabled.repo'),
    '[qubes-templates-sim-testing]\nname=Simulated testing repository\nenabled=0\nbaseurl=http://127.0.0.1:9/\ngpgcheck=1\ngpgkey=file://' +
      scenario.keyPath +
      '\n',
  );
}, RUN_TIMEOUT_MS);

afterAll(async () => {
  await scenario?.close();
});

/**
 * Package sizes vary by a byte with the signature: each one printed must be a forged package's
 * size (checked here), and is then shown as <size> (or <size> KiB in the human form).
 */
function normalise(text: string, expect: ExpectStatic): string {
  const known = new Set([...sizes.values()].map(String));
  const check = (size: string): string => {
    expect(known.has(size), `size ${size} is no forged package's`).toBe(true);
    return '<size>';
  };
  return text
    .replace(/"size":"(\d+)"/g, (_, size: string) => `"size":"${size === '0' ? size : check(size)}"`)
    .replace(
      /^(available|upgradable)((?:\|[^|]*){5})\|(\d+)\|/gm,
      (_, s: string, f: string, size: string) => `${s}${f}|${check(size)}|`,
    )
    .replace(/^(Size +: +)\d+\.\d KiB$/gm, '$1<size> KiB');
}

async function golden(expect: ExpectStatic, args: string[], file: string): Promise<TmplRun> {
  const run = await runTmpl(scenario, args);
  expectSuccess(run);
  expect(run.stderr).toBe('');
  expect(run.stdout.endsWith('\n')).toBe(true);
  await expect(normalise(run.stdout, expect)).toMatchFileSnapshot(path.join(SNAPSHOTS, file));
  return run;
}

const EVERY_SELECTION = ['--installed', '--available', '--extras', '--upgrades'];

describe.concurrent('golden listings', () => {
  for (const command of ['list', 'info'] as const) {
    for (const [form, flags] of [
      ['human', []],
      ['mr', ['--machine-readable']],
      ['json', ['--machine-readable-json']],
    ] as const) {
      it(
        `${command} installed/available/extras/upgrades, ${form}`,
        async ({ expect }) => {
          const run = await golden(
            expect,
            [command, ...EVERY_SELECTION, ...flags],
            `${command}-sections.${form}.txt`,
          );
          if (form === 'mr') {
            // every line keeps its field count whatever the text: status + 3 (list) or 12 (info)
            for (const line of run.stdout.trim().split('\n')) {
              const fields = line.split('|');
              if (command === 'list') expect(fields).toHaveLength(4);
              else expect(fields.length).toBeGreaterThanOrEqual(13);
              if (command === 'info') {
                expect(fields[9]).not.toBe('');
                expect(/^\d+$|^$/.test(fields[6]!)).toBe(true);
              }
            }
          }
          if (form === 'json') {
            const json = JSON.parse(run.stdout) as Record<string, { name: string }[]>;
            expect(Object.keys(json)).toEqual(['installed', 'available', 'extra', 'upgradable']);
            expect(json.installed!.map((t) => t.name)).toEqual([
              'debian-12-xfce',
              'fedora-41-xfce',
              'fedora-42-xfce',
            ]);
            expect(json.extra!.map((t) => t.name)).toEqual(['debian-12-xfce', 'fedora-41-xfce']);
            expect(json.upgradable!.map((t) => t.name)).toEqual(['fedora-42-xfce']);
          }
        },
        RUN_TIMEOUT_MS,
      );
      it(
        `${command} --available --all-versions, ${form}`,
        async ({ expect }) => {
          await golden(
            expect,
            [command, '--available', '--all-versions', ...flags],
            `${command}-all-versions.${form}.txt`,
          );
        },
        RUN_TIMEOUT_MS,
      );
    }
  }

  it(
    'info of one template by spec: the licence with spaces and the bars stay in their fields',
    async ({ expect }) => {
      const run = await golden(expect, ['info', '--machine-readable', 'debian-13-xfce'], 'info-spec.mr.txt');
      const fields = run.stdout.trim().split('|');
      expect(fields.slice(0, 6)).toEqual([
        'available',
        'debian-13-xfce',
        '0',
        '4.3.0',
        '202601150000',
        'qubes-templates-sim',
      ]);
      expect(fields[9]).toBe('GPL-2.0-or-later AND MIT');
      expect(fields[10]).toBe('https://www.qubes-os.org/');
      // the '|' of the summary cannot shift the description: it is shown as '?'
      expect(fields[11]).toBe('Debian 13 ? Xfce');
      // the description is last: its newline is '|', as qvm-template writes it
      expect(fields.slice(12).join('|')).toBe('First line of the description.|Second line | with a bar.');
      const json = await runTmpl(scenario, ['info', '--machine-readable-json', 'debian-13-xfce']);
      const row = (JSON.parse(json.stdout) as Record<string, Record<string, string>[]>).available![0]!;
      expect(row.license).toBe('GPL-2.0-or-later AND MIT');
      expect(row.summary).toBe('Debian 13 | Xfce');
      expect(row.description).toBe('First line of the description.\nSecond line | with a bar.');
      const forged = scenario.packages.find((p) => p.packageName === 'qubes-template-debian-13-xfce')!;
      expect(row.size).toBe(String(forged.size));
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'search: name and summary, AND of keywords, exact name matches first',
    async ({ expect }) => {
      await golden(expect, ['search', 'fedora'], 'search-fedora.txt');
      await golden(expect, ['search', 'fedora-42-xfce', 'xfce'], 'search-exact.txt');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'search --all: description and URL too, OR of keywords',
    async ({ expect }) => {
      const run = await golden(expect, ['search', '--all', 'fedora', 'whonix.org'], 'search-all.txt');
      // whonix matches "fedora" only in its description and whonix.org only in its URL
      expect(run.stdout).toContain('whonix-gateway-18 : Whonix Gateway');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'repolist: enabled (default), --all with status, --disabled',
    async ({ expect }) => {
      const repoFiles = ['--repo-files', path.join(scenario.dir, 'disabled.repo')];
      await golden(expect, ['repolist', ...repoFiles], 'repolist.txt');
      await golden(expect, ['repolist', '--all', ...repoFiles], 'repolist-all.txt');
      await golden(expect, ['repolist', '--disabled', ...repoFiles], 'repolist-disabled.txt');
    },
    RUN_TIMEOUT_MS,
  );
});
