/**
 * Planning `tmpl migrate-from-rpmdb`: which templates recorded in dom0's rpm database move into
 * template-* features (as qvm-template's migrate-from-rpmdb does), and the features each gets.
 * A package whose VM is gone, or whose template is already managed, is only dropped from the
 * database.
 */
import { featureValue, formatQubesDate } from '../qubes/template-features.ts';
import { TEMPLATE_PACKAGE_PREFIX, type RpmdbPackage } from '../qubes/rpmdb.ts';
import type { TemplateFeatureName } from './template-plan.ts';

export interface MigrationPlan {
  /** Templates to give features, with the package they come from. */
  readonly migrate: readonly { readonly template: string; readonly pkg: RpmdbPackage }[];
  /** Every package to drop from the rpm database, in the database's order. */
  readonly dropped: readonly string[];
}

/** The template a package installs: `qubes-template-NAME` → NAME. */
export function templateOfPackage(pkg: RpmdbPackage): string {
  return pkg.name.slice(TEMPLATE_PACKAGE_PREFIX.length);
}

/** `vms`: the VMs that exist; `managed`: the templates that already carry their template-name. */
export function planMigration(
  packages: readonly RpmdbPackage[],
  vms: ReadonlySet<string>,
  managed: ReadonlySet<string>,
): MigrationPlan {
  const migrate: { template: string; pkg: RpmdbPackage }[] = [];
  for (const pkg of packages) {
    const template = templateOfPackage(pkg);
    if (vms.has(template) && !managed.has(template)) migrate.push({ template, pkg });
  }
  return { migrate, dropped: packages.map((p) => p.name) };
}

/** The features qvm-template writes for a migrated template, in its order. */
export function migrationFeatures(template: string, pkg: RpmdbPackage): [TemplateFeatureName, string][] {
  return [
    ['template-name', template],
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
}
