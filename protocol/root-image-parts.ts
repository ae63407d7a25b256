/**
 * The names of a template's root-image parts, as the Qubes builder makes them:
 * `tar ... | split -d -b 1G - root.img.part.` (QUBES.md, "Template RPM layout").
 *
 * GNU split with -d and no -a numbers from 00 and widens the suffix by two digits each time the
 * leading digit would become the last one of the alphabet, so that names keep sorting in order
 * (coreutils split.c next_file_name, "suffix_auto"): 00..89, then 9000..9899, then 990000..998999,
 * then 99900000..99989999, ... Both sides use this rule: the worker to pick the parts it sends,
 * the orchestrator to refuse any other name and any gap.
 */

export const ROOT_IMG_PART_PREFIX = 'root.img.part.';

/**
 * Longest suffix considered: up to 12 digits split names the first 9,999,990 parts, far more than
 * one METADATA frame can announce (MAX_METADATA_FILES), and every index stays a safe integer.
 */
export const MAX_SPLIT_SUFFIX_LENGTH = 12;

/** Parts named before the suffix reached `widenings` leading 9s: 90 + 900 + ... */
function partsBefore(widenings: number): number {
  let total = 0;
  for (let k = 0; k < widenings; k++) total += 9 * 10 ** (k + 1);
  return total;
}

/**
 * The position (0 for the first part) at which `split -d` writes the file named `basename`, or
 * null when split never writes that name (root.img.part.x, .1, .90, .9900, .00.bak, ...).
 */
export function rootPartIndex(basename: string): number | null {
  if (!basename.startsWith(ROOT_IMG_PART_PREFIX)) return null;
  const suffix = basename.slice(ROOT_IMG_PART_PREFIX.length);
  if (suffix.length < 2 || suffix.length > MAX_SPLIT_SUFFIX_LENGTH || suffix.length % 2 !== 0) return null;
  if (!/^[0-9]+$/.test(suffix)) return null;
  const widenings = suffix.length / 2 - 1;
  for (let i = 0; i < widenings; i++) if (suffix[i] !== '9') return null;
  const rest = suffix.slice(widenings);
  // A leading 9 in the remaining digits is where split widens instead.
  if (rest.startsWith('9')) return null;
  return partsBefore(widenings) + Number(rest);
}
