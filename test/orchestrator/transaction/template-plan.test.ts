/**
 * planTemplateConfiguration: the whole configuration of a template, planned from the verified
 * files before the import commits. Each refusal carries its stable code; a good package gives
 * every feature and property qvm-template-postprocess and qvm-template would set.
 */
import { describe, expect, test } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import {
  MAX_FEATURE_VALUE_LENGTH,
  planTemplateConfiguration,
  type PlanInput,
} from '../../../orchestrator/transaction/template-plan.ts';
import type { PackageInfo } from '../../../protocol/rpm-types.ts';

const info: PackageInfo = {
  name: 'qubes-template-fedora-41',
  epoch: 2,
  version: '4.2.0',
  release: '202601011200',
  arch: 'noarch',
  buildtime: 1767225600,
  license: 'GPLv3+',
  url: 'https://www.qubes-os.org',
  summary: 'Fedora 41 template',
  description: 'A template\nfor Qubes',
  size: 1,
  files: [],
  fileDigestAlgo: 'sha256',
  payloadFormat: 'cpio',
  payloadCompressor: 'zstd',
  payloadDigest: null,
  payloadDigestAlgo: null,
  payloadDigestAlt: null,
};

const ascii = (text: string) => new TextEncoder().encode(text);

function input(files: Record<string, string | Uint8Array>, allowPv = false): PlanInput {
  return {
    head: { templateName: 'fedora-41', info },
    files: new Map(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? ascii(v) : v])),
    allowPv,
    reponame: 'qubes-templates-itl',
    installedAt: new Date('2026-12-03T10:00:00Z'),
  };
}

const GOOD = {
  'template.conf': 'gui=1\nqrexec=1\nvirt-mode=hvm\nkernel=\nnet.fake-ip=10.137.0.5\nbogus=1\n',
  'whitelisted-appmenus.list': 'org.gnome.Terminal.desktop\nfirefox.desktop\n',
  'vm-whitelisted-appmenus.list': 'org.gnome.Terminal.desktop\n',
  'netvm-whitelisted-appmenus.list': 'nm-connection-editor.desktop\n',
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OrchestratorError);
    return (error as OrchestratorError).code;
  }
  return undefined;
}

describe('planTemplateConfiguration', () => {
  test('a good package: every property and feature, in the order they are applied', () => {
    const plan = planTemplateConfiguration(input(GOOD));
    expect([...plan.properties]).toEqual([
      ['installed_by_rpm', 'False'],
      ['virt_mode', 'hvm'],
      ['kernel', ''],
    ]);
    expect([...plan.features]).toEqual([
      ['default-menu-items', 'org.gnome.Terminal.desktop'],
      ['menu-items', 'org.gnome.Terminal.desktop firefox.desktop'],
      ['netvm-menu-items', 'nm-connection-editor.desktop'],
      ['gui', '1'],
      ['qrexec', '1'],
      ['net.fake-ip', '10.137.0.5'],
      ['template-name', 'fedora-41'],
      ['template-epoch', '2'],
      ['template-version', '4.2.0'],
      ['template-release', '202601011200'],
      ['template-reponame', 'qubes-templates-itl'],
      ['template-buildtime', '2026-01-01 00:00:00'],
      ['template-installtime', '2026-12-03 10:00:00'],
      ['template-license', 'GPLv3+'],
      ['template-url', 'https://www.qubes-os.org'],
      ['template-summary', 'Fedora 41 template'],
      ['template-description', 'A template|for Qubes'],
    ]);
    expect(plan.warnings).toEqual(["template.conf: ignoring unknown key 'bogus'"]);
  });

  test('virt-mode=pv only with --allow-pv; otherwise a warning and virt_mode untouched', () => {
    const conf = { ...GOOD, 'template.conf': 'virt-mode=pv\n' };
    expect(planTemplateConfiguration(input(conf)).properties.has('virt_mode')).toBe(false);
    expect(planTemplateConfiguration(input(conf, true)).properties.get('virt_mode')).toBe('pv');
  });

  test('the same input gives the same plan', () => {
    expect(planTemplateConfiguration(input(GOOD))).toEqual(planTemplateConfiguration(input(GOOD)));
  });

  test.each([
    ['CRLF line ends', ascii('gui=1\r\nqrexec=1\r\n')],
    ['a duplicate key', ascii('gui=1\nqrexec=1\ngui=1\n')],
    ['a byte outside ASCII', Buffer.from('gui=1\nnet.fake-ip=10.137.0.5\xa0\n', 'latin1')],
    ['a UTF-8 character', ascii('gui=1\nkernel=\u00e9\n')],
    ['a control byte', ascii('gui=1\x1b[2J\n')],
    ['a line without =', ascii('gui=1\nqrexec\n')],
    ['an empty key', ascii('=1\n')],
  ])('template.conf with %s: template.conf', (_what, bytes) => {
    expect(codeOf(() => planTemplateConfiguration(input({ ...GOOD, 'template.conf': bytes })))).toBe(
      'template.conf',
    );
  });

  test('a template.conf over the limit: template.conf', () => {
    const big = 'x=1\n'.repeat((64 * 1024) / 4 + 1);
    expect(codeOf(() => planTemplateConfiguration(input({ ...GOOD, 'template.conf': big })))).toBe(
      'template.conf',
    );
  });

  test.each([
    ['whitelisted-appmenus.list', 'a name with a space', 'firefox.desktop\nmy app.desktop\n'],
    ['vm-whitelisted-appmenus.list', 'CRLF line ends', 'org.gnome.Terminal.desktop\r\n'],
    ['netvm-whitelisted-appmenus.list', 'a byte outside ASCII', 'nm\xe9.desktop\n'],
    ['whitelisted-appmenus.list', 'a path', '../../etc/passwd\n'],
    ['vm-whitelisted-appmenus.list', 'a shell word', '$(reboot).desktop\n'],
  ])('%s with %s: template.appmenu', (file, _what, list) => {
    const bytes = Buffer.from(list, 'latin1');
    expect(codeOf(() => planTemplateConfiguration(input({ ...GOOD, [file]: bytes })))).toBe(
      'template.appmenu',
    );
  });

  test('menu items longer than a feature value together: template.appmenu', () => {
    const list = 'a-rather-long-application-name.desktop\n'.repeat(1000);
    expect(
      codeOf(() => planTemplateConfiguration(input({ ...GOOD, 'whitelisted-appmenus.list': list }))),
    ).toBe('template.appmenu');
  });

  test('a long description is truncated to the longest feature value, not refused', () => {
    const long = {
      ...input(GOOD),
      head: { templateName: 'fedora-41', info: { ...info, description: 'x'.repeat(100_000) } },
    };
    expect(planTemplateConfiguration(long).features.get('template-description')).toBe(
      'x'.repeat(MAX_FEATURE_VALUE_LENGTH),
    );
  });

  test('a missing appmenu list is a warning, its feature not planned', () => {
    const { 'netvm-whitelisted-appmenus.list': _omitted, ...rest } = GOOD;
    const plan = planTemplateConfiguration(input(rest));
    expect(plan.features.has('netvm-menu-items')).toBe(false);
    expect(plan.warnings).toContain(
      'netvm-whitelisted-appmenus.list not in the package: netvm-menu-items not set',
    );
  });
});
