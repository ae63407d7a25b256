/**
 * `tmpl migrate-from-rpmdb [--dry-run]`: templates installed by the old rpm-based tooling are
 * recorded in dom0's rpm database; this moves that record into the template-* features (as
 * qvm-template does; planned by transaction/rpmdb-migration.ts), then drops the packages from
 * the rpm database (`rpm -e --justdb`, no scriptlets).
 */
import { createApp } from '../context.ts';
import { flag, type OptionSpec } from '../arguments.ts';
import { installedTemplate } from '../../qubes/installed-templates.ts';
import { withLock } from '../../transaction/lock.ts';
import { dropFromRpmdb, templatePackages } from '../../qubes/rpmdb.ts';
import { migrationFeatures, planMigration, templateOfPackage } from '../../transaction/rpmdb-migration.ts';
import { formatMigration } from '../report-format.ts';
import type { Command } from './types.ts';

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
    const dryRun = flag(args, 'dry-run');
    const result = await withLock(app.lockFile, async () => {
      const vms = new Set((await app.admin.listVms()).map((v) => v.name));
      const packages = await templatePackages(ctx.env);
      const managed = new Set<string>();
      for (const name of packages.map(templateOfPackage).filter((n) => vms.has(n)))
        if ((await installedTemplate(app.admin, name)).managed) managed.add(name);
      const plan = planMigration(packages, vms, managed);
      if (!dryRun) {
        for (const { template, pkg } of plan.migrate) {
          for (const [feature, value] of migrationFeatures(template, pkg))
            await app.admin.setFeature(template, feature, value);
          await app.admin.setProperty(template, 'installed_by_rpm', 'False');
        }
        if (plan.dropped.length > 0) await dropFromRpmdb(ctx.env, plan.dropped);
      }
      return { migrated: plan.migrate.map((m) => m.template), dropped: plan.dropped };
    });
    if (flag(args, 'json'))
      ctx.stdout.write(JSON.stringify({ command: 'migrate-from-rpmdb', ok: true, dryRun, ...result }) + '\n');
    else ctx.stdout.write(formatMigration(result, dryRun));
    return 0;
  },
};
