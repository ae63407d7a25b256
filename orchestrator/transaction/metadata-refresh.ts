/**
 * Planning `tmpl refresh-metadata`: which package head to ask for (the managed template's own
 * package at its installed EVR, from its own repository), and which descriptive features the
 * verified header changes. The image is never touched; the header must be exactly that package.
 */
import { VerificationError } from '../../protocol/errors.ts';
import type { PackageInfo } from '../../protocol/rpm-types.ts';
import { displayLine } from '../../protocol/display-text.ts';
import { OrchestratorError } from '../errors.ts';
import type { InstalledTemplate } from '../qubes/installed-templates.ts';
import { featureValue } from '../qubes/template-features.ts';
import { TEMPLATE_PACKAGE_PREFIX } from '../qubes/rpmdb.ts';
import type { TemplateFeatureName } from './template-plan.ts';

/** The package whose signed head describes an installed template. */
export interface HeadRef {
  readonly repoid: string;
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
}

/** The features refresh-metadata may change, in the order it writes them. */
export const REFRESHED_FEATURES = [
  'template-summary',
  'template-description',
  'template-url',
  'template-license',
] as const satisfies readonly TemplateFeatureName[];

export type RefreshedFeature = (typeof REFRESHED_FEATURES)[number];

/**
 * The head to fetch for `name`; refuses a template that is not installed (`t` undefined), not
 * managed, or whose repository is not enabled.
 */
export function headRefFor(
  name: string,
  t: InstalledTemplate | undefined,
  enabledRepoIds: readonly string[],
): HeadRef {
  if (!t) throw new OrchestratorError('template.not-found', `Template '${displayLine(name)}' not installed.`);
  if (!t.managed)
    throw new OrchestratorError(
      'template.not-managed',
      `Template '${name}' is not managed by tmpl or qvm-template`,
    );
  if (!enabledRepoIds.includes(t.reponame))
    throw new OrchestratorError('config.repo', `repository '${t.reponame}' of ${name} is not enabled`);
  const { epoch, version, release } = t;
  return { repoid: t.reponame, name: `${TEMPLATE_PACKAGE_PREFIX}${name}`, epoch, version, release };
}

/**
 * The features to set from a verified header: those whose value differs from `current` (the
 * template's present values; undefined when unset). Refuses a header of another package or EVR.
 */
export function metadataChanges(
  ref: HeadRef,
  info: PackageInfo,
  current: ReadonlyMap<RefreshedFeature, string | undefined>,
): [RefreshedFeature, string][] {
  if (
    info.name !== ref.name ||
    (info.epoch ?? 0) !== ref.epoch ||
    info.version !== ref.version ||
    info.release !== ref.release
  ) {
    throw new VerificationError(
      'package.unexpected',
      `the header is not ${ref.name}-${ref.epoch}:${ref.version}-${ref.release}`,
    );
  }
  const values: Record<RefreshedFeature, string> = {
    'template-summary': info.summary,
    'template-description': info.description,
    'template-url': info.url,
    'template-license': info.license,
  };
  return REFRESHED_FEATURES.map((f): [RefreshedFeature, string] => [f, featureValue(values[f])]).filter(
    ([f, v]) => current.get(f) !== v,
  );
}
