/**
 * `tmpl migrate-from-rpmdb`: templates installed by the old rpm-based tooling are recorded in
 * dom0's rpm database; this moves that record into the template-* features (as qvm-template
 * does), then drops the packages from the rpm database (`rpm -e --justdb`, no scriptlets).
 * The rpm database is dom0's own trusted state; TMPL_RPM_DBPATH selects another one.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createApp } from '../context.ts';
import { flag, type OptionSpec } from '../arguments.ts';
import { OrchestratorError } from '../../errors.ts';
import { installedTemplate } from '../../qubes/installed-templates.ts';
import { withLock } from '../../transaction/lock.ts';
import { featureValue, formatQubesDate } from '../../qubes/template-features.ts';
import type { TemplateFeatureName } from '../../transaction/template-plan.ts';
import type { Command } from './types.ts';

const FIELD = '|@tmpl@|';
const RECORD = '|@tmpl-end@|\n';
const FIELDS = [
  'NAME',
  'EPOCHNUM',
  'VERSION',
  'RELEASE',
  'BUILDTIME',
  'INSTALLTIME',
  'LICENSE',
  'URL',
  'SUMMARY',
  'DESCRIPTION',
];

interface RpmdbPackage {
  readonly name: string;
  readonly epoch: string;
  readonly version: string;
  readonly release: string;
  readonly buildtime: number;
  readonly installtime: number;
  readonly license: string;
  readonly url: string;
  readonly summary: string;
  readonly description: string;
}

function rpmArgs(env: NodeJS.ProcessEnv): string[] {
  return env.TMPL_RPM_DBPATH ? ['--dbpath', env.TMPL_RPM_DBPATH] : [];
}

async function templatePackages(env: NodeJS.ProcessEnv): Promise<RpmdbPackage[]> {
  const qf = FIELDS.map((f) => `%{${f}}`).join(FIELD) + RECORD;
  const { stdout } = await promisify(execFile)(
    'rpm',
    [...rpmArgs(env), '-qa', '--qf', qf, 'qubes-template-*'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return stdout
    .split(RECORD)
    .filter((r) => r !== '')
    .map((record) => {
      const f = record.split(FIELD);
      if (f.length !== FIELDS.length)
        throw new OrchestratorError('qubes.exception', 'unexpected rpm query output');
      const [name, epoch, version, release, buildtime, installtime, license, url, summary, description] =
        f as [string, string, string, string, string, string, string, string, string, string];
      return {
        name,
        epoch,
        version,
        release,
        buildtime: Number(buildtime),
        installtime: Number(installtime),
        license,
        url,
        summary,
        description,
      };
    });
}

export const migrateCommand: Command = {
  name: 'migrate-from-rpmdb',
  summary: 'move templates recorded in the rpm database into template-* features',
  options: [
    { name: 'dry-run', kind: 'flag', help: 'show what would change, change nothing' } satisfies OptionSpec,
  ],
  usage: 'tmpl migrate-from-rpmdb [--dry-run]',
  async run(ctx) {
    const args = ctx.args!;
    const app = createApp(args, ctx.env);
    const result = await withLock(app.lockFile, async () => {
      const vms = new Set((await app.admin.listVms()).map((v) => v.name));
      const migrated: string[] = [];
      const dropped: string[] = [];
      for (const pkg of await templatePackages(ctx.env)) {
        const name = pkg.name.slice('qubes-template-'.length);
        if (!vms.has(name) || (await installedTemplate(app.admin, name)).managed) {
          dropped.push(pkg.name);
          continue;
        }
        if (!flag(args, 'dry-run')) {
          const features: [TemplateFeatureName, string][] = [
            ['template-name', name],
            ['template-epoch', pkg.epoch],
            ['template-version', pkg.version],
            ['template-release', pkg.release],
            ['template-reponame', '@commandline'],
            ['template-buildtime', formatQubesDate(pkg.buildtime)],
            ['template-installtime', formatQubesDate(pkg.installtime)],
            ['template-license', featureValue(pkg.license)],
            ['template-url', featureValue(pkg.url)],
            ['template-summary', featureValue(pkg.summary)],
            ['template-description', featureValue(pkg.description)],
          ];
          for (const [feature, value] of features) await app.admin.setFeature(name, feature, value);
          await app.admin.setProperty(name, 'installed_by_rpm', 'False');
        }
        migrated.push(name);
        dropped.push(pkg.name);
      }
      if (!flag(args, 'dry-run') && dropped.length > 0) {
        await promisify(execFile)('rpm', [
          ...rpmArgs(ctx.env),
          '-e',
          '--justdb',
          '--noscripts',
          '--nodeps',
          ...dropped,
        ]);
      }
      return { migrated, dropped };
    });
    if (flag(args, 'json'))
      ctx.stdout.write(
        JSON.stringify({
          command: 'migrate-from-rpmdb',
          ok: true,
          dryRun: flag(args, 'dry-run'),
          ...result,
        }) + '\n',
      );
    else {
      for (const m of result.migrated)
        ctx.stdout.write(`${flag(args, 'dry-run') ? 'would migrate' : 'migrated'} ${m}\n`);
      for (const d of result.dropped)
        ctx.stdout.write(
          `${flag(args, 'dry-run') ? 'would remove' : 'removed'} ${d} from the rpm database\n`,
        );
    }
    return 0;
  },
};
