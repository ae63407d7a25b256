/**
 * describeTemplate over hand-built headers: the Qubes builder's layout is accepted (and the honest
 * worker sends exactly the files it allows); every other layout a signer can put in a validly
 * signed header is refused with its stable code. Part names are checked against the names the
 * real `split -d` writes.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectAllowedFiles } from '../../../dispvm-worker/ops-fetch.ts';
import { describeTemplate, MAX_ROOT_IMG_PARTS } from '../../../orchestrator/verify/template-layout.ts';
import { VerificationError } from '../../../protocol/errors.ts';
import { rootPartIndex } from '../../../protocol/root-image-parts.ts';
import type { PackageInfo, RpmFileEntry } from '../../../protocol/rpm-types.ts';
import { partName } from '../../../sim/forge/image-parts.ts';

const NAME = 'fedora-41';
const DIR = `/var/lib/qubes/vm-templates/${NAME}`;
const GHOST = 1 << 6;
const REG = 0o100660;
const DIR_MODE = 0o040775;
const SYMLINK = 0o120777;
const FIFO = 0o010664;
/** Files split writes in the test below: past 90 + 900, into the 6-digit suffixes. */
const SPLIT_FILES = 1_000;

let work: string;
/** Suffixes written by the real `split -d`, in the order split wrote them. */
let realSuffixes: string[];

beforeAll(async () => {
  // A thousand one-byte files: on tmpfs when there is one (seconds on a busy disk otherwise).
  work = await mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tmpl-layout-'));
  // One byte per part: split writes SPLIT_FILES parts named as the builder's would be.
  await execa('sh', ['-c', `head -c ${SPLIT_FILES} /dev/zero | split -d -b 1 - root.img.part.`], {
    cwd: work,
  });
  const names = (await readdir(work)).sort();
  // split's names sort in the order it writes them: byte k of the input is in part k.
  realSuffixes = names.map((n) => n.slice('root.img.part.'.length));
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function entry(name: string, mode: number, extra: Partial<RpmFileEntry> = {}): RpmFileEntry {
  const p = name === '' ? DIR : name.startsWith('/') ? name : `${DIR}/${name}`;
  const regular = (mode & 0o170000) === 0o100000;
  return {
    path: p,
    size: regular ? 1 : mode === DIR_MODE || (mode & 0o170000) === 0o040000 ? 4096 : 0,
    mode,
    digest: regular ? 'ab'.repeat(32) : '',
    linkTo: '',
    flags: 0,
    ...extra,
  };
}

/** The file list template.spec makes, sorted by path as rpm lists it. */
function builderFiles(parts: readonly string[]): RpmFileEntry[] {
  return [
    entry('', 0o042770),
    entry('apps', DIR_MODE),
    entry('apps.templates', DIR_MODE),
    entry('apps.tempicons', DIR_MODE),
    entry('clean-volatile.img.tar', REG, { size: 0 }),
    entry('netvm-whitelisted-appmenus.list', 0o100664),
    entry('private.img', REG, { flags: GHOST, size: 0, digest: '' }),
    entry('root.img', REG, { flags: GHOST, size: 0, digest: '' }),
    ...parts.map((p) => entry(p, REG, { size: 1024 })),
    entry('template.conf', 0o100664, { size: 0 }),
    entry('vm-whitelisted-appmenus.list', 0o100664),
    entry('volatile.img', REG, { flags: GHOST, size: 0, digest: '' }),
    entry('whitelisted-appmenus.list', 0o100664),
  ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function info(files: readonly RpmFileEntry[], name = `qubes-template-${NAME}`): PackageInfo {
  return {
    name,
    epoch: 0,
    version: '4.2.0',
    release: '202601010000',
    arch: 'noarch',
    buildtime: 0,
    license: 'GPLv3+',
    url: '',
    summary: '',
    description: '',
    size: 0,
    files,
    fileDigestAlgo: 'sha256',
    payloadFormat: 'cpio',
    payloadCompressor: 'zstd',
    payloadDigest: null,
    payloadDigestAlgo: null,
    payloadDigestAlt: null,
  };
}

const THREE_PARTS = ['root.img.part.00', 'root.img.part.01', 'root.img.part.02'];

/** The builder's layout with `change` applied to its file list. */
function changed(change: (files: RpmFileEntry[]) => RpmFileEntry[]): PackageInfo {
  return info(change(builderFiles(THREE_PARTS)));
}

function replaced(name: string, replacement: Partial<RpmFileEntry>): PackageInfo {
  return changed((files) =>
    files.map((f) => (f.path === (name === '' ? DIR : `${DIR}/${name}`) ? { ...f, ...replacement } : f)),
  );
}

function added(...extra: RpmFileEntry[]): PackageInfo {
  return changed((files) => [...files, ...extra]);
}

function codeOf(pkg: PackageInfo): string {
  try {
    describeTemplate(pkg);
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    return (error as VerificationError).code;
  }
  return 'accepted';
}

describe('part names: the rule of GNU split -d', () => {
  it('gives every name the real split -d wrote its position, widening past 89, 9899 and 998999', () => {
    expect(realSuffixes).toHaveLength(SPLIT_FILES);
    expect(realSuffixes.slice(88, 92)).toEqual(['88', '89', '9000', '9001']);
    expect(realSuffixes.slice(989, 991)).toEqual(['9899', '990000']);
    expect(realSuffixes.at(-1)).toBe('990009');
    realSuffixes.forEach((suffix, index) => expect(rootPartIndex(`root.img.part.${suffix}`)).toBe(index));
  });

  it("agrees with the forge's split, also past 9990 parts", () => {
    realSuffixes.forEach((suffix, index) => expect(partName(index)).toBe(`root.img.part.${suffix}`));
    for (const index of [998_999 - 990_000 + 990, 9989, 9990, 10_099, 99_989, 99_990]) {
      expect(rootPartIndex(partName(index))).toBe(index);
    }
    expect(partName(9990)).toBe('root.img.part.99900000');
    expect(rootPartIndex('root.img.part.99989999')).toBe(9989 + 90_000);
  });

  it('refuses names split -d never writes', () => {
    for (const suffix of [
      'x',
      '0',
      '1',
      '000',
      '90',
      '99',
      '9900',
      '9999',
      '999000',
      '0a',
      ' 0',
      '+1',
      '-1',
      '1e3',
      '00.bak',
      '00/',
    ]) {
      expect(rootPartIndex(`root.img.part.${suffix}`), suffix).toBeNull();
    }
    expect(rootPartIndex('root.img.part.')).toBeNull();
    // The longest suffix considered (MAX_SPLIT_SUFFIX_LENGTH) and one widening beyond it.
    expect(rootPartIndex('root.img.part.999998999999')).toBe(9_999_989);
    expect(rootPartIndex('root.img.part.99999900000000')).toBeNull();
    expect(rootPartIndex('root.img.parts.00')).toBeNull();
  });
});

describe('the builder layout is accepted', () => {
  it('takes the parts in order and the small files, nothing else', () => {
    const layout = describeTemplate(info(builderFiles(THREE_PARTS)));
    expect(layout.templateName).toBe(NAME);
    expect(layout.rootParts.map((p) => p.path)).toEqual(THREE_PARTS.map((p) => `${DIR}/${p}`));
    expect(layout.rootPartsBytes).toBe(3 * 1024);
    expect([...layout.allowed.keys()].sort()).toEqual(
      [
        ...THREE_PARTS,
        'netvm-whitelisted-appmenus.list',
        'template.conf',
        'vm-whitelisted-appmenus.list',
        'whitelisted-appmenus.list',
      ]
        .map((f) => `${DIR}/${f}`)
        .sort(),
    );
  });

  it('takes 1000 parts named by the real split -d, listed in rpm order', () => {
    const parts = realSuffixes.slice(0, 1000).map((s) => `root.img.part.${s}`);
    const layout = describeTemplate(info(builderFiles(parts)));
    expect(layout.rootParts.map((p) => p.path)).toEqual(parts.map((p) => `${DIR}/${p}`));
  });

  it('the honest worker sends exactly the files the orchestrator allows, in its order', () => {
    for (const count of [1, 3, 91, 1000]) {
      const pkg = info(builderFiles(realSuffixes.slice(0, count).map((s) => `root.img.part.${s}`)));
      const allowed = describeTemplate(pkg).allowed;
      const sent = selectAllowedFiles(pkg, NAME).map((f) => f.path);
      expect(sent).toEqual(pkg.files.filter((f) => allowed.has(f.path)).map((f) => f.path));
      expect(new Set(sent)).toEqual(new Set(allowed.keys()));
    }
  });

  it('takes a layout without template.conf or appmenu lists (they are optional)', () => {
    const pkg = changed((files) => files.filter((f) => !/(\.list|template\.conf)$/.test(f.path)));
    expect([...describeTemplate(pkg).allowed.keys()]).toEqual(THREE_PARTS.map((p) => `${DIR}/${p}`));
  });
});

describe('hostile layouts in a validly signed header are refused', () => {
  const cases: [string, () => PackageInfo, string][] = [
    [
      'a script in /etc/profile.d',
      () => added(entry('/etc/profile.d/evil.sh', 0o100644)),
      'template.layout.outside',
    ],
    ['a binary in /usr/bin', () => added(entry('/usr/bin/evil', 0o100755)), 'template.layout.outside'],
    [
      "another template's root image part",
      () => added(entry('/var/lib/qubes/vm-templates/debian-12/root.img.part.00', REG)),
      'template.layout.outside',
    ],
    [
      'a directory whose name extends the template name',
      () => added(entry(`${DIR}-evil/template.conf`, REG)),
      'template.layout.outside',
    ],
    [
      'the templates directory itself',
      () => added(entry('/var/lib/qubes/vm-templates', DIR_MODE)),
      'template.layout.outside',
    ],
    [
      'template.conf as a symlink',
      () => replaced('template.conf', { mode: SYMLINK, linkTo: '/etc/shadow', digest: '' }),
      'template.layout.file-type',
    ],
    [
      'an appmenu list as a FIFO',
      () => replaced('whitelisted-appmenus.list', { mode: FIFO, digest: '', size: 0 }),
      'template.layout.file-type',
    ],
    [
      'apps/ as a symlinked directory',
      () => replaced('apps', { mode: SYMLINK, linkTo: '/etc' }),
      'template.layout.file-type',
    ],
    [
      'the template directory as a symlink',
      () => replaced('', { mode: SYMLINK, linkTo: '/var/lib/qubes/vm-templates/debian-12' }),
      'template.layout.file-type',
    ],
    ['a character device', () => added(entry('dev', 0o020600)), 'template.layout.file-type'],
    ['a socket', () => added(entry('sock', 0o140600)), 'template.layout.file-type'],
    [
      'a part as a symlink',
      () => replaced('root.img.part.01', { mode: SYMLINK, linkTo: '/dev/sda', digest: '' }),
      'template.layout.file-type',
    ],
    [
      'template.conf as a directory',
      () => replaced('template.conf', { mode: DIR_MODE, digest: '' }),
      'template.layout.file-type',
    ],
    ['apps/ as a regular file', () => replaced('apps', { mode: REG }), 'template.layout.file-type'],
    [
      'a part as a directory',
      () => replaced('root.img.part.02', { mode: DIR_MODE, digest: '' }),
      'template.layout.file-type',
    ],
    [
      'a regular template.conf with a link target',
      () => replaced('template.conf', { linkTo: '/etc/shadow' }),
      'template.layout.link',
    ],
    ['a directory with a link target', () => replaced('apps', { linkTo: '/etc' }), 'template.layout.link'],
    ['an extra root.img.part.x', () => added(entry('root.img.part.x', REG)), 'package.parts'],
    ['root.img.part.1', () => added(entry('root.img.part.1', REG)), 'package.parts'],
    ['root.img.part.90 (split writes 9000)', () => added(entry('root.img.part.90', REG)), 'package.parts'],
    ['a missing part', () => changed((f) => f.filter((e) => !e.path.endsWith('.part.01'))), 'package.parts'],
    ['no part', () => changed((f) => f.filter((e) => !e.path.includes('.part.'))), 'package.parts'],
    [
      'parts out of order',
      () =>
        changed((f) => {
          const i = f.findIndex((e) => e.path.endsWith('.part.00'));
          const copy = [...f];
          [copy[i], copy[i + 1]] = [copy[i + 1]!, copy[i]!];
          return copy;
        }),
      'package.parts',
    ],
    [
      'a part after 89 named 90',
      () => info(builderFiles([...realSuffixes.slice(0, 90), '90'].map((s) => `root.img.part.${s}`))),
      'package.parts',
    ],
    ['a file nested in apps/', () => added(entry('apps/evil.desktop', REG)), 'template.layout.unknown'],
    [
      'a script in the template directory',
      () => added(entry('evil.sh', 0o100755)),
      'template.layout.unknown',
    ],
    [
      'a file named like an Object property',
      () => added(entry('constructor', REG)),
      'template.layout.unknown',
    ],
    [
      'a file nested under a part name',
      () => added(entry('root.img.part.00/x', REG)),
      'template.layout.unknown',
    ],
    [
      'the template directory with a trailing slash',
      () => added(entry(`${DIR}/`, DIR_MODE)),
      'template.layout.unknown',
    ],
    ['an unknown directory', () => added(entry('apps.evil', DIR_MODE)), 'template.layout.unknown'],
    [
      'template.conf as %ghost (its settings dropped)',
      () => replaced('template.conf', { flags: GHOST }),
      'template.layout.ghost',
    ],
    ['a part as %ghost', () => replaced('root.img.part.02', { flags: GHOST }), 'template.layout.ghost'],
    [
      'root.img shipped instead of %ghost',
      () => replaced('root.img', { flags: 0, size: 4096, digest: 'cd'.repeat(32) }),
      'template.layout.ghost',
    ],
    [
      'template.conf listed twice',
      () => added(entry('template.conf', 0o100664)),
      'template.layout.duplicate',
    ],
    [
      'a big template.conf',
      () => replaced('template.conf', { size: 64 * 1024 + 1 }),
      'package.file-too-large',
    ],
    [
      'a non-empty clean-volatile.img.tar',
      () => replaced('clean-volatile.img.tar', { size: 1 }),
      'package.file-too-large',
    ],
    ['not a template package', () => info(builderFiles(THREE_PARTS), 'fedora-41'), 'package.not-template'],
    [
      'a template name that is no VM name',
      () => info(builderFiles(THREE_PARTS), 'qubes-template-../x'),
      'package.bad-name',
    ],
  ];
  for (const [what, pkg, code] of cases) {
    it(`${what}: ${code}`, () => {
      expect(codeOf(pkg())).toBe(code);
    });
  }

  it(`more than MAX_ROOT_IMG_PARTS (${MAX_ROOT_IMG_PARTS}) parts: package.parts`, () => {
    const parts = Array.from({ length: MAX_ROOT_IMG_PARTS + 1 }, (_, i) => partName(i));
    expect(codeOf(info(builderFiles(parts)))).toBe('package.parts');
    expect(codeOf(info(builderFiles(parts.slice(0, -1))))).toBe('accepted');
  });
});
