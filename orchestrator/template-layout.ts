/**
 * The template layout the signed header must describe: which of its files the orchestrator
 * accepts (root.img parts, template.conf, the three appmenu lists), the template's name, and the
 * parts in order. Decided from the verified header alone, before any payload byte is accepted.
 */
import type { PackageInfo, RpmFileEntry } from '../protocol/rpm-types.ts';
import { VerificationError } from '../protocol/errors.ts';
import { TEMPLATE_PACKAGE_PREFIX } from '../protocol/spec-match.ts';
import { quotedLine } from '../protocol/display-text.ts';
import { MAX_APPMENU_LIST_BYTES, MAX_TEMPLATE_CONF_BYTES } from './template-conf.ts';

export const TEMPLATE_DIR_PREFIX = '/var/lib/qubes/vm-templates/';

export const SMALL_FILES: Readonly<Record<string, number>> = {
  'template.conf': MAX_TEMPLATE_CONF_BYTES,
  'whitelisted-appmenus.list': MAX_APPMENU_LIST_BYTES,
  'vm-whitelisted-appmenus.list': MAX_APPMENU_LIST_BYTES,
  'netvm-whitelisted-appmenus.list': MAX_APPMENU_LIST_BYTES,
};
export const PART_PATTERN = /^root\.img\.part\.([0-9]{2,3})$/;

/** What the verified header says about the template: its name, files and parts. */
export interface TemplateLayout {
  readonly templateName: string;
  /** The root.img parts the header lists, in order. */
  readonly rootParts: readonly RpmFileEntry[];
  /** Sum of the parts' sizes: an upper bound on the image data a pool must hold. */
  readonly rootPartsBytes: number;
  /** Every file the orchestrator accepts from the worker, by full path. */
  readonly allowed: ReadonlyMap<string, RpmFileEntry>;
}

export function describeTemplate(info: PackageInfo): TemplateLayout {
  if (!info.name.startsWith(TEMPLATE_PACKAGE_PREFIX) || info.name.length === TEMPLATE_PACKAGE_PREFIX.length) {
    throw new VerificationError(
      'package.not-template',
      `package ${quotedLine(info.name)} is not a qubes-template-* package`,
    );
  }
  const templateName = info.name.slice(TEMPLATE_PACKAGE_PREFIX.length);
  if (!/^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/.test(templateName) || /-dm$/.test(templateName)) {
    throw new VerificationError(
      'package.bad-name',
      `template name ${quotedLine(templateName)} is not a valid VM name`,
    );
  }
  const dir = `${TEMPLATE_DIR_PREFIX}${templateName}/`;
  const allowed = new Map<string, RpmFileEntry>();
  const parts: { index: number; entry: RpmFileEntry }[] = [];
  for (const entry of info.files) {
    if (!entry.path.startsWith(dir)) continue;
    const base = entry.path.slice(dir.length);
    const isRegular = (entry.mode & 0o170000) === 0o100000;
    const partMatch = PART_PATTERN.exec(base);
    if (!isRegular || (entry.flags & (1 << 6)) !== 0) continue; // not a file, or %ghost
    if (partMatch) {
      parts.push({ index: Number(partMatch[1]), entry });
      allowed.set(entry.path, entry);
    } else if (base in SMALL_FILES) {
      if (entry.size > SMALL_FILES[base]!) {
        throw new VerificationError(
          'package.file-too-large',
          `${base} is larger than ${SMALL_FILES[base]} bytes`,
        );
      }
      allowed.set(entry.path, entry);
    }
  }
  parts.sort((a, b) => a.index - b.index);
  parts.forEach((p, i) => {
    if (p.index !== i)
      throw new VerificationError(
        'package.parts',
        'root.img parts are not numbered 00, 01, ... without gaps',
      );
  });
  if (parts.length === 0) throw new VerificationError('package.parts', 'the package has no root.img.part.00');
  const rootParts = parts.map((p) => p.entry);
  return {
    templateName,
    rootParts,
    rootPartsBytes: rootParts.reduce((sum, e) => sum + e.size, 0),
    allowed,
  };
}
