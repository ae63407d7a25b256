import { describe, expect, it } from 'vitest';
import { selectAllowedFiles } from '../../dispvm-worker/ops-fetch.ts';
import type { PackageInfo, RpmFileEntry } from '../../protocol/rpm-types.ts';

const DIR = '/var/lib/qubes/vm-templates/t';
const REG = 0o100644;

function file(path: string, mode = REG, flags = 0): RpmFileEntry {
  return {
    path,
    size: 1,
    mode,
    digest: mode === REG ? 'ab'.repeat(32) : '',
    linkTo: mode === 0o120777 ? '/etc/shadow' : '',
    flags,
  };
}

function info(files: RpmFileEntry[]): PackageInfo {
  return { files } as unknown as PackageInfo;
}

describe('selectAllowedFiles', () => {
  const files = [
    file('/etc/profile.d/evil.sh'),
    file(`${DIR}/apps/template.conf`),
    file(`${DIR}/clean-volatile.img.tar`),
    file(`${DIR}/netvm-whitelisted-appmenus.list`),
    file(`${DIR}/root.img`, REG, 1 << 6),
    file(`${DIR}/root.img.part.00`),
    file(`${DIR}/root.img.part.01`),
    file(`${DIR}/root.img.part.1`),
    file(`${DIR}/root.img.part.00.bak`),
    file(`${DIR}/template.conf`, 0o120777),
    file(`${DIR}/vm-whitelisted-appmenus.list`),
    file(`${DIR}/whitelisted-appmenus.list`, 0o040755),
    file('/var/lib/qubes/vm-templates/other/template.conf'),
    file('/var/lib/qubes/vm-templates/t2/root.img.part.00'),
  ];

  it('keeps only regular allowed files directly in the template directory, in header order', () => {
    expect(selectAllowedFiles(info(files), 't').map((f) => f.path)).toEqual([
      `${DIR}/netvm-whitelisted-appmenus.list`,
      `${DIR}/root.img.part.00`,
      `${DIR}/root.img.part.01`,
      `${DIR}/vm-whitelisted-appmenus.list`,
    ]);
  });

  it('narrows to the kinds the request names', () => {
    expect(selectAllowedFiles(info(files), 't', ['root.img']).map((f) => f.path)).toEqual([
      `${DIR}/root.img.part.00`,
      `${DIR}/root.img.part.01`,
    ]);
    expect(selectAllowedFiles(info(files), 't', [])).toEqual([]);
  });
});
