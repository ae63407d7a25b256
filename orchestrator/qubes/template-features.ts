/**
 * The template-* features qvm-template writes on an installed template (qvm_template.py,
 * install()); Qubes' own tools treat a template as managed when template-name equals its name.
 */
import type { PackageInfo } from '../../protocol/rpm-types.ts';

export const TEMPLATE_FEATURE_NAMES = [
  'template-name',
  'template-epoch',
  'template-version',
  'template-release',
  'template-reponame',
  'template-buildtime',
  'template-installtime',
  'template-license',
  'template-url',
  'template-summary',
  'template-description',
] as const;

/** '%Y-%m-%d %H:%M:%S' in UTC, qvm-template's DATE_FMT. */
export function formatQubesDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

/**
 * Qubes (R4.3) accepts only printable ASCII in feature values; other characters of a package's
 * text fields become '?', and newlines become '|' as the incumbent writes them.
 */
export function featureValue(text: string): string {
  return text.replace(/\r?\n/g, '|').replace(/[^\x20-\x7e]/g, '?');
}

export function templateFeatures(
  templateName: string,
  info: PackageInfo,
  reponame: string,
  installedAt: Date,
): Map<(typeof TEMPLATE_FEATURE_NAMES)[number], string> {
  return new Map([
    ['template-name', templateName],
    ['template-epoch', String(info.epoch ?? 0)],
    ['template-version', featureValue(info.version)],
    ['template-release', featureValue(info.release)],
    ['template-reponame', featureValue(reponame)],
    ['template-buildtime', formatQubesDate(info.buildtime)],
    ['template-installtime', formatQubesDate(Math.floor(installedAt.getTime() / 1000))],
    ['template-license', featureValue(info.license)],
    ['template-url', featureValue(info.url)],
    ['template-summary', featureValue(info.summary)],
    ['template-description', featureValue(info.description)],
  ]);
}
