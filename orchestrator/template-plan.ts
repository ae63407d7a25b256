/**
 * The complete configuration of an installed template, planned from the verified header and the
 * verified small files before anything changes in Qubes. Everything that can refuse a package
 * (template.conf, the appmenu lists, the values of the features to set) fails here, inside
 * receiveTemplate's `validate` hook, which runs before the image's last chunk is released to the
 * import: a refused package leaves the old root volume, its features and properties as they were.
 * What remains after the import commits (Admin API calls, qubes.PostInstall) is applied by
 * config-transaction.ts so that a failure restores the old values.
 */
import type { VerifiedHead } from './receive-template.ts';
import { APPMENU_FEATURES, parseAppmenuList, parseTemplateConf } from './template-conf.ts';
import { templateFeatures } from './template-features.ts';
import { OrchestratorError } from './errors.ts';

/**
 * The longest feature value planned. qubesd reads at most 65536 bytes per request (method,
 * argument, qube names and payload together), so a longer value could only fail after the
 * import committed.
 */
export const MAX_FEATURE_VALUE_LENGTH = 32 * 1024;

export interface TemplateConfigurationPlan {
  /** Properties of the template, set in this order. */
  readonly properties: ReadonlyMap<string, string>;
  /** Features of the template, set in this order (appmenu lists, template.conf, template-*). */
  readonly features: ReadonlyMap<string, string>;
  readonly warnings: readonly string[];
}

export interface PlanInput {
  readonly head: Pick<VerifiedHead, 'templateName' | 'info'>;
  /** Verified against the signed header: template.conf and the appmenu lists by base name. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly allowPv: boolean;
  /** The repository the package came from ('@commandline' for a local file). */
  readonly reponame: string;
  readonly installedAt: Date;
}

/**
 * Pure: the same input gives the same plan. Throws 'template.conf' for a refused template.conf
 * and 'template.appmenu' for a refused appmenu list.
 */
export function planTemplateConfiguration(input: PlanInput): TemplateConfigurationPlan {
  const { head, files } = input;
  const name = head.templateName;
  const warnings: string[] = [];
  const features = new Map<string, string>();
  const properties = new Map<string, string>([['installed_by_rpm', 'False']]);
  for (const [file, feature] of Object.entries(APPMENU_FEATURES)) {
    const bytes = files.get(file);
    if (bytes) {
      const items = parseAppmenuList(bytes, file);
      if (items.length > MAX_FEATURE_VALUE_LENGTH)
        throw new OrchestratorError(
          'template.appmenu',
          `${file}: the menu items are longer than ${MAX_FEATURE_VALUE_LENGTH} characters together`,
        );
      features.set(feature, items);
    } else warnings.push(`${file} not in the package: ${feature} not set`);
  }
  const conf = files.get('template.conf');
  if (conf) {
    const actions = parseTemplateConf(conf, { allowPv: input.allowPv });
    warnings.push(...actions.warnings);
    for (const [feature, value] of actions.features) features.set(feature, value);
    if (actions.virtMode) properties.set('virt_mode', actions.virtMode);
    if (actions.kernel !== undefined) properties.set('kernel', actions.kernel);
  }
  // The header's text fields (a description, say) are shown truncated, not refused.
  for (const [feature, value] of templateFeatures(name, head.info, input.reponame, input.installedAt)) {
    features.set(feature, value.slice(0, MAX_FEATURE_VALUE_LENGTH));
  }
  return { properties, features, warnings };
}
