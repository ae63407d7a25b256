/**
 * Choosing a package for a spec, as qvm-template does: latest EVR (on a tie a non-testing
 * repository wins), the installed EVR for reinstall, the highest higher for upgrade, the
 * highest lower for downgrade.
 */
import { compareEvrParts } from '../../protocol/evr.ts';
import type { PackageListing } from '../../protocol/messages.ts';
import { matchesSpec, templateNameOfPackage } from '../../protocol/spec-match.ts';
import { displayLine } from '../../protocol/display-text.ts';
import { OrchestratorError } from '../errors.ts';

/** What an install asks for: the package choice depends on it (select). */
export type InstallMode = 'install' | 'reinstall' | 'upgrade' | 'downgrade';

export interface Candidate extends PackageListing {
  readonly templateName: string;
}

export function candidates(listing: readonly PackageListing[]): Candidate[] {
  return listing.flatMap((p) => {
    const templateName = templateNameOfPackage(p.name);
    return templateName ? [{ ...p, templateName }] : [];
  });
}

export function matching(spec: string, list: readonly Candidate[]): Candidate[] {
  return list.filter((c) =>
    matchesSpec(spec, { name: c.templateName, epoch: c.epoch, version: c.version, release: c.release }),
  );
}

function isTesting(repoid: string): boolean {
  return repoid.includes('testing');
}

/** Compares by EVR; on equal EVR the non-testing repository sorts higher. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  const byEvr = compareEvrParts(a, b);
  if (byEvr !== 0) return byEvr;
  return Number(isTesting(b.repoid)) - Number(isTesting(a.repoid));
}

export function select(
  list: readonly Candidate[],
  mode: InstallMode,
  installed?: { epoch: number; version: string; release: string },
): Candidate | undefined {
  let pool = [...list];
  if (installed && mode !== 'install') {
    const wanted = mode === 'reinstall' ? 0 : mode === 'upgrade' ? 1 : -1;
    pool = pool.filter((c) => compareEvrParts(c, installed) === wanted);
  }
  pool.sort(compareCandidates);
  return pool.at(-1);
}

/**
 * For each spec, the package `install` would choose (`tmpl download`); a spec that matches no
 * package is refused with template.not-found.
 */
export function chooseEach(specs: readonly string[], list: readonly Candidate[]): Candidate[] {
  return specs.map((spec) => {
    const chosen = select(matching(spec, list), 'install');
    if (!chosen)
      throw new OrchestratorError('template.not-found', `Template '${displayLine(spec)}' not found.`);
    return chosen;
  });
}
