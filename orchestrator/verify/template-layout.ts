/**
 * The template layout the signed header must describe: which of its files the orchestrator
 * accepts (root.img parts, template.conf, the three appmenu lists), the template's name, and the
 * parts in order. Decided from the verified header alone, before any payload byte is accepted.
 *
 * A validly signed package is still refused unless its file list is exactly what the Qubes
 * builder's template.spec makes (QUBES.md, "Template RPM layout"): every entry in
 * /var/lib/qubes/vm-templates/NAME/, directories and regular files only, no link targets, the
 * root image as `split -d` names its parts with none missing, and nothing the builder does not
 * ship. A signer can otherwise hide files in the package that tmpl would silently leave out.
 */
import type { PackageInfo, RpmFileEntry } from '../../protocol/rpm-types.ts';
import { MAX_METADATA_FILES } from '../../protocol/limits.ts';
import { ROOT_IMG_PART_PREFIX, rootPartIndex } from '../../protocol/root-image-parts.ts';
import { TEMPLATE_PACKAGE_PREFIX } from '../../protocol/spec-match.ts';
import { quotedLine } from '../../protocol/display-text.ts';
import { layoutError } from '../errors.ts';
import { MAX_APPMENU_LIST_BYTES, MAX_TEMPLATE_CONF_BYTES } from './template-conf.ts';

export const TEMPLATE_DIR_PREFIX = '/var/lib/qubes/vm-templates/';

/** The small files the orchestrator takes from the package, with their size limits. */
export const SMALL_FILES: Readonly<Record<string, number>> = {
  'template.conf': MAX_TEMPLATE_CONF_BYTES,
  'whitelisted-appmenus.list': MAX_APPMENU_LIST_BYTES,
  'vm-whitelisted-appmenus.list': MAX_APPMENU_LIST_BYTES,
  'netvm-whitelisted-appmenus.list': MAX_APPMENU_LIST_BYTES,
};
/** Directories template.spec creates (empty) in the template directory. */
export const BUILDER_DIRECTORIES: ReadonlySet<string> = new Set(['apps', 'apps.templates', 'apps.tempicons']);
/** template.spec's `%ghost` entries: listed, never in the payload. */
export const BUILDER_GHOSTS: ReadonlySet<string> = new Set(['root.img', 'volatile.img', 'private.img']);
/** Shipped by template.spec as an empty file (`touch`); never taken. */
export const CLEAN_VOLATILE = 'clean-volatile.img.tar';
/**
 * Shaped like a part name. Only names rootPartIndex accepts reach `allowed`, so among allowed
 * files this tells the parts from the small files.
 */
export const PART_PATTERN = /^root\.img\.part\.([0-9]{2,})$/;
/** Parts of one package: the worker announces them and the small files in one METADATA frame. */
export const MAX_ROOT_IMG_PARTS = MAX_METADATA_FILES - Object.keys(SMALL_FILES).length;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
/** RPMFILE_GHOST (rpm include/rpm/rpmfiles.h). */
const RPMFILE_GHOST = 1 << 6;

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

/** Own keys only: `in` would also find 'constructor', 'toString', ... */
function isSmallFile(base: string): boolean {
  return Object.hasOwn(SMALL_FILES, base);
}

type Kind = 'dir' | 'file';

function kindOf(entry: RpmFileEntry): Kind | null {
  const type = entry.mode & S_IFMT;
  return type === S_IFDIR ? 'dir' : type === S_IFREG ? 'file' : null;
}

/** The type template.spec gives `base` (a name in the template directory; '' is the directory). */
function builderKind(base: string): Kind | 'part-name' | null {
  // Nothing nested: the builder's directories are empty.
  if (base.includes('/')) return null;
  if (base === '' || BUILDER_DIRECTORIES.has(base)) return 'dir';
  if (isSmallFile(base) || base === CLEAN_VOLATILE || BUILDER_GHOSTS.has(base)) return 'file';
  if (base.startsWith(ROOT_IMG_PART_PREFIX)) return 'part-name';
  return null;
}

function templateNameOf(info: PackageInfo): string {
  if (!info.name.startsWith(TEMPLATE_PACKAGE_PREFIX) || info.name.length === TEMPLATE_PACKAGE_PREFIX.length) {
    throw layoutError(
      'package.not-template',
      `package ${quotedLine(info.name)} is not a qubes-template-* package`,
    );
  }
  const templateName = info.name.slice(TEMPLATE_PACKAGE_PREFIX.length);
  if (!/^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/.test(templateName) || /-dm$/.test(templateName)) {
    throw layoutError('package.bad-name', `template name ${quotedLine(templateName)} is not a valid VM name`);
  }
  return templateName;
}

/**
 * Checks one header entry against the builder's layout; returns its base name in the template
 * directory ('' for the directory itself).
 */
function checkEntry(entry: RpmFileEntry, dir: string): string {
  const path = quotedLine(entry.path);
  if (entry.path !== dir.slice(0, -1) && !entry.path.startsWith(dir)) {
    throw layoutError('template.layout.outside', `${path} is outside ${dir}`);
  }
  // The directory itself is listed without a trailing slash; `dir/` would be an empty name.
  const base = entry.path === dir ? '/' : entry.path.slice(dir.length);
  const kind = kindOf(entry);
  if (kind === null) {
    throw layoutError(
      'template.layout.file-type',
      `${path} is neither a directory nor a regular file (mode ${entry.mode.toString(8)})`,
    );
  }
  if (entry.linkTo !== '') throw layoutError('template.layout.link', `${path} carries a link target`);
  const expected = builderKind(base);
  if (expected === null)
    throw layoutError('template.layout.unknown', `${path} is not a file the Qubes builder makes`);
  const ghost = (entry.flags & RPMFILE_GHOST) !== 0;
  if (ghost !== BUILDER_GHOSTS.has(base)) {
    throw layoutError(
      'template.layout.ghost',
      ghost ? `${path} is a %ghost entry` : `${path} is shipped, the builder lists it as %ghost`,
    );
  }
  if (expected === 'part-name') {
    if (rootPartIndex(base) === null)
      throw layoutError('package.parts', `${path} is not a part name that split -d makes`);
    if (kind !== 'file') throw layoutError('template.layout.file-type', `${path} is not a regular file`);
    return base;
  }
  if (kind !== expected) {
    throw layoutError(
      'template.layout.file-type',
      `${path} is not a ${expected === 'dir' ? 'directory' : 'regular file'}`,
    );
  }
  const limit = base === CLEAN_VOLATILE ? 0 : isSmallFile(base) ? SMALL_FILES[base] : undefined;
  if (limit !== undefined && entry.size > limit) {
    throw layoutError('package.file-too-large', `${base} is larger than ${limit} bytes`);
  }
  return base;
}

export function describeTemplate(info: PackageInfo): TemplateLayout {
  const templateName = templateNameOf(info);
  const dir = `${TEMPLATE_DIR_PREFIX}${templateName}/`;
  const allowed = new Map<string, RpmFileEntry>();
  const seen = new Set<string>();
  const rootParts: RpmFileEntry[] = [];
  for (const entry of info.files) {
    if (seen.has(entry.path))
      throw layoutError('template.layout.duplicate', `${quotedLine(entry.path)} is listed twice`);
    seen.add(entry.path);
    const base = checkEntry(entry, dir);
    const index = rootPartIndex(base);
    if (index !== null) {
      // rpm lists files sorted by path and split's names sort in part order: the header's
      // order is the image's, with no gap.
      if (index !== rootParts.length) {
        throw layoutError(
          'package.parts',
          `${base} follows ${rootParts.length} parts: a part is missing or out of order`,
        );
      }
      if (rootParts.length === MAX_ROOT_IMG_PARTS) {
        throw layoutError('package.parts', `more than ${MAX_ROOT_IMG_PARTS} root.img parts`);
      }
      rootParts.push(entry);
      allowed.set(entry.path, entry);
    } else if (isSmallFile(base)) {
      allowed.set(entry.path, entry);
    }
  }
  if (rootParts.length === 0) throw layoutError('package.parts', 'the package has no root.img.part.00');
  return {
    templateName,
    rootParts,
    rootPartsBytes: rootParts.reduce((sum, e) => sum + e.size, 0),
    allowed,
  };
}
