/**
 * Template specs as qvm-template reads them (qubesadmin/tools/qvm_template.py, is_match_spec,
 * after dnf's "NEVRA matching"): a spec is a glob matched against a candidate's name written in
 * several forms, in order of priority:
 *
 *   N-E:V-R, N-V-R (epoch 0 only), N, N-E:V, N-V (epoch 0 only)
 *
 * N is the template name (qvm-template matches installed templates by VM name, and remote ones
 * as `qubes-template-` + N against `qubes-template-` + spec: the literal prefix on both sides
 * makes the two the same test).
 */
import { fnmatchcase } from './fnmatch.ts';

/** Package names of templates: qubes-template-<template name>. */
export const TEMPLATE_PACKAGE_PREFIX = 'qubes-template-';

export interface SpecCandidate {
  /** Template name, without the qubes-template- prefix. */
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
}

/** The forms tried, best first; epoch-0 candidates also match forms without the epoch. */
export function specTargets(candidate: SpecCandidate): string[] {
  const { name, epoch, version, release } = candidate;
  if (epoch !== 0) {
    return [`${name}-${epoch}:${version}-${release}`, name, `${name}-${epoch}:${version}`];
  }
  return [
    `${name}-${epoch}:${version}-${release}`,
    `${name}-${version}-${release}`,
    name,
    `${name}-${epoch}:${version}`,
    `${name}-${version}`,
  ];
}

/**
 * Index of the first form the spec matches, in the order of specTargets (lower is a closer
 * match), or undefined if none does.
 */
export function specMatchPriority(spec: string, candidate: SpecCandidate): number | undefined {
  const index = specTargets(candidate).findIndex((target) => fnmatchcase(target, spec));
  return index === -1 ? undefined : index;
}

export function matchesSpec(spec: string, candidate: SpecCandidate): boolean {
  return specMatchPriority(spec, candidate) !== undefined;
}

/** qubes-template-NAME for a template name. */
export function templatePackageName(templateName: string): string {
  return TEMPLATE_PACKAGE_PREFIX + templateName;
}

/** The template name inside a package name, or undefined if it is not a template package. */
export function templateNameOfPackage(packageName: string): string | undefined {
  if (!packageName.startsWith(TEMPLATE_PACKAGE_PREFIX)) return undefined;
  const name = packageName.slice(TEMPLATE_PACKAGE_PREFIX.length);
  return name === '' ? undefined : name;
}
