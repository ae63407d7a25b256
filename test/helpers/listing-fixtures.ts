/** Candidates and installed templates, as the repositories and the Admin API would give them, for pure unit tests. */
import type { Candidate } from '../../orchestrator/repos/package-choice.ts';
import type { InstalledTemplate } from '../../orchestrator/qubes/installed-templates.ts';

export function candidate(template: string, evr: string, repoid = 'qubes-templates-itl'): Candidate {
  const [version = '', release = ''] = evr.split('-');
  return {
    name: `qubes-template-${template}`,
    templateName: template,
    epoch: 0,
    version,
    release,
    repoid,
    downloadsize: 2048,
    buildtime: 1700000000,
    license: 'GPL-2.0-or-later',
    url: 'https://example.invalid',
    summary: `${template} summary`,
    description: 'line one\nline two',
  };
}

export function installed(name: string, evr: string, managed = true): InstalledTemplate {
  const [version = '', release = ''] = evr.split('-');
  return {
    name,
    managed,
    epoch: 0,
    version,
    release,
    reponame: 'qubes-templates-itl',
    buildtime: '2023-11-14 22:13:20',
    installtime: '2024-01-01 00:00:00',
    license: 'GPL-2.0-or-later',
    url: 'https://example.invalid',
    summary: `${name} summary`,
    description: 'line one|line two',
  };
}
