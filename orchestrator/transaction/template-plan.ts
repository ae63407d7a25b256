/**
 * The complete configuration of an installed template, planned from the verified header and the
 * verified small files before anything changes in Qubes. Everything that can refuse a package
 * (template.conf, the appmenu lists, the values of the features to set) fails here, inside
 * receiveTemplate's `validate` hook, which runs before the image's last chunk is released to the
 * import: a refused package leaves the old root volume, its features and properties as they were.
 * What remains after the import commits (Admin API calls, qubes.PostInstall) is applied by
 * config-transaction.ts so that a failure restores the old values.
 */
import type { VerifiedHead } from '../verify/receive-template.ts';
import {
  APPMENU_FEATURES,
  BOOLEAN_FEATURE_KEYS,
  IP_FEATURE_KEYS,
  parseAppmenuList,
  parseTemplateConf,
} from '../verify/template-conf.ts';
import { TEMPLATE_FEATURE_NAMES, templateFeatures } from '../qubes/template-features.ts';
import { OrchestratorError } from '../errors.ts';

/**
 * Every feature tmpl sets on a template it installs, updates or migrates (and removes again when
 * a failed update restores the old ones): the appmenu lists, template.conf's flags and addresses,
 * the template-* features. qrexec-policy/70-tmpl.policy grants admin.vm.feature.Set and
 * .Remove for exactly these names (test/sim/policy-tmpl.test.ts compares them).
 */
export const TEMPLATE_SETTABLE_FEATURES = [
  ...Object.values(APPMENU_FEATURES),
  ...BOOLEAN_FEATURE_KEYS,
  ...IP_FEATURE_KEYS,
  ...TEMPLATE_FEATURE_NAMES,
] as const;
export type TemplateFeatureName = (typeof TEMPLATE_SETTABLE_FEATURES)[number];

/**
 * Every property tmpl sets or resets on a template: installed_by_rpm, template.conf's virt_mode
 * and kernel, netvm during qubes.PostInstall. The policy grants admin.vm.property.Set and .Reset
 * for exactly these names.
 */
export const TEMPLATE_SETTABLE_PROPERTIES = ['installed_by_rpm', 'virt_mode', 'kernel', 'netvm'] as const;
export type TemplatePropertyName = (typeof TEMPLATE_SETTABLE_PROPERTIES)[number];

/**
 * The longest feature value planned. qubesd reads at most 65536 bytes per request (method,
 * argument, qube names and payload together), so a longer value could only fail after the
 * import committed.
 */
export const MAX_FEATURE_VALUE_LENGTH = 32 * 1024;

export interface TemplateConfigurationPlan {
  /** Properties of the template, set in this order. */
  readonly properties: ReadonlyMap<TemplatePropertyName, string>;
  /** Features of the template, set in this order (appmenu lists, template.conf, template-*). */
  readonly features: ReadonlyMap<TemplateFeatureName, string>;
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
  const features = new Map<TemplateFeatureName, string>();
  const properties = new Map<TemplatePropertyName, string>([['installed_by_rpm', 'False']]);
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
