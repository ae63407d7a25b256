/**
 * Interop of forged template packages with the tools users trust: rpmkeys --checksig as
 * qvm-template runs it, rpm -qp, rpm2cpio | cpio, GNU tar on the joined parts, and rpm -i under
 * bwrap (which runs scriptlets: the positive control for the canary).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FORGE_COMPRESSORS,
  forgeTemplate,
  generateSigningKey,
  seededBytes,
  writeRpm,
  type ForgeCompressor,
  type ForgedTemplate,
  type ForgeTemplateOptions,
  type SigningKey,
} from '../../sim/forge/index.ts';
import { rpmkeysCheck } from '../helpers/rpm-fixtures.ts';

let work: string;
let key: SigningKey;
let otherKey: SigningKey;
let keyPath: string;
let dbDir: string;

const BUILDTIME = 1_767_225_600;
const MIB = 1024 * 1024;
const IMAGE = {
  size: 16 * MIB,
  extents: [
    { offset: 0, bytes: new TextEncoder().encode('ext4 superblock stand-in') },
    { offset: 4 * MIB + 100, length: 300_000, seed: 'region-a' },
    { offset: 12 * MIB, length: 70_000, seed: 'region-b' },
  ],
};

async function rpmQuery(pkg: string, format: string): Promise<string> {
  const { stdout } = await execa('rpm', ['-qp', `--dbpath=${dbDir}`, '--nosignature', '--qf', format, pkg], {
    env: { LC_ALL: 'C' },
  });
  return stdout;
}

async function forge(name: string, extra: Partial<ForgeTemplateOptions> = {}): Promise<ForgedTemplate> {
  const outDir = path.join(work, name);
  await mkdir(outDir, { recursive: true });
  return forgeTemplate({
    name,
    version: '4.2.0',
    release: '202601010000',
    image: IMAGE,
    partSize: 128 * 1024,
    signingKey: key,
    buildtime: BUILDTIME,
    outDir,
    tempDir: work,
    ...extra,
  });
}

/** The bytes the image holds: the extents over zeros. */
async function expectedImage(): Promise<Buffer> {
  const image = Buffer.alloc(IMAGE.size);
  for (const e of IMAGE.extents) {
    if ('bytes' in e) {
      image.set(e.bytes!, e.offset);
      continue;
    }
    let at = e.offset;
    for await (const chunk of seededBytes(e.seed, e.length)) {
      image.set(chunk, at);
      at += chunk.length;
    }
  }
  return image;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** rpm -i --nodeps into a private rpmdb, with /var bound to a scratch dir (TOOLING.md). */
async function installUnderBwrap(pkg: string): Promise<{ exitCode: number; output: string; varDir: string }> {
  const base = await mkdtemp(path.join(work, 'install-'));
  const varDir = path.join(base, 'var');
  const db = path.join(base, 'db');
  await mkdir(varDir);
  await mkdir(db);
  const result = await execa(
    'bwrap',
    [
      '--dev-bind',
      '/',
      '/',
      '--bind',
      varDir,
      '/var',
      'rpm',
      '-i',
      '--nodeps',
      `--dbpath=${db}`,
      '--define',
      `_tmppath ${base}`,
      pkg,
    ],
    { env: { LC_ALL: 'C' }, reject: false, all: true },
  );
  return { exitCode: result.exitCode ?? -1, output: result.all ?? '', varDir };
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-forge-rpm-'));
  dbDir = path.join(work, 'rpmdb');
  await mkdir(dbDir);
  [key, otherKey] = await Promise.all([
    generateSigningKey('Forge Signer'),
    generateSigningKey('Other Signer'),
  ]);
  keyPath = path.join(work, 'signer.asc');
  await writeFile(keyPath, key.publicKeyArmored);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('signed template packages', () => {
  const cases: { compressor: ForgeCompressor; epoch?: number }[] = FORGE_COMPRESSORS.map((compressor, i) => ({
    compressor,
    ...(i % 2 === 0 ? { epoch: i } : {}),
  }));

  it.each(cases)(
    '$compressor (epoch $epoch) passes rpmkeys --checksig and queries right',
    async ({ compressor, epoch }) => {
      const t = await forge(`c-${compressor}`, {
        compressor,
        ...(epoch !== undefined ? { epoch } : {}),
        summary: 'Forged | template',
        description: 'Line one\nLine two',
        license: 'GPLv2+ and MIT',
        url: 'https://example.invalid/t',
      });
      expect(t.fileName).toBe(`qubes-template-c-${compressor}-4.2.0-202601010000.noarch.rpm`);
      const check = await rpmkeysCheck(t.path, [keyPath]);
      expect(check.output.trim()).toBe('-: digests signatures OK');
      expect(check.ok).toBe(true);

      const fields = await rpmQuery(
        t.path,
        '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{BUILDTIME}\\t%{LICENSE}\\t%{URL}\\t%{SUMMARY}\\t%{PAYLOADCOMPRESSOR}\\t%{PAYLOADFORMAT}\\t%{RSAHEADER:pgpsig}',
      );
      const [name, e, version, release, arch, buildtime, license, url, summary, comp, format, sig] =
        fields.split('\t');
      expect({ name, e, version, release, arch, buildtime, license, url, summary, comp, format }).toEqual({
        name: `qubes-template-c-${compressor}`,
        e: epoch === undefined ? '(none)' : String(epoch),
        version: '4.2.0',
        release: '202601010000',
        arch: 'noarch',
        buildtime: String(BUILDTIME),
        license: 'GPLv2+ and MIT',
        url: 'https://example.invalid/t',
        summary: 'Forged | template',
        comp: compressor === 'none' ? '(none)' : compressor,
        format: 'cpio',
      });
      expect(sig).toMatch(new RegExp(`^RSA/SHA256, .*Key ID ${key.keyId.toLowerCase()}$`));
      expect(await rpmQuery(t.path, '%{DESCRIPTION}')).toBe('Line one\nLine two');
      // Like the Qubes builder's rpmsign --rpmv3: a header+payload signature as well.
      expect(await rpmQuery(t.path, '%{SIGPGP:pgpsig}')).toMatch(
        new RegExp(`Key ID ${key.keyId.toLowerCase()}$`),
      );
    },
  );

  it('ed25519 keys sign under the DSA/GPG tags; legacySignature false leaves the header-only one', async () => {
    const ed = await generateSigningKey('Ed Signer', { type: 'ed25519' });
    const edPath = path.join(work, 'ed.asc');
    await writeFile(edPath, ed.publicKeyArmored);
    const both = await forge('ed-both', { signingKey: ed });
    const headerOnly = await forge('ed-header', { signingKey: ed, legacySignature: false });
    for (const t of [both, headerOnly]) expect((await rpmkeysCheck(t.path, [edPath])).ok).toBe(true);
    expect(await rpmQuery(both.path, '%{DSAHEADER:pgpsig}|%{SIGGPG:pgpsig}|%{RSAHEADER}')).toMatch(
      /^EdDSA\/.*\|EdDSA\/.*\|\(none\)$/,
    );
    expect(await rpmQuery(headerOnly.path, '%{SIGGPG}')).toBe('(none)');
  });

  it('lists the Qubes builder layout: parts, lists, dirs and ghosts', async () => {
    const t = await forge('layout', {
      templateConf: 'gui=1\n',
      appmenus: { whitelisted: 'firefox.desktop\n' },
    });
    const listing = await rpmQuery(
      t.path,
      '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]',
    );
    const dest = '/var/lib/qubes/vm-templates/layout';
    const lines = listing.trim().split('\n');
    expect(lines).toContain(`drwxrws--- root:qubes  ${dest}`);
    for (const d of ['apps', 'apps.templates', 'apps.tempicons'])
      expect(lines).toContain(`drwxrwxr-x root:qubes  ${dest}/${d}`);
    for (const g of ['root.img', 'private.img', 'volatile.img'])
      expect(lines).toContain(`-rw-rw---- root:qubes g ${dest}/${g}`);
    for (const f of [
      'template.conf',
      'whitelisted-appmenus.list',
      'vm-whitelisted-appmenus.list',
      'netvm-whitelisted-appmenus.list',
    ]) {
      expect(lines).toContain(`-rw-rw-r-- root:qubes  ${dest}/${f}`);
    }
    expect(lines).toContain(`-rw-rw---- root:qubes  ${dest}/clean-volatile.img.tar`);
    const parts = lines.filter((l) => l.includes('/root.img.part.')).map((l) => l.split('/').at(-1));
    expect(parts).toEqual(t.parts.map((p) => p.name));
    expect(parts[0]).toBe('root.img.part.00');
    expect(t.parts.length).toBeGreaterThan(2);
    expect(t.parts.slice(0, -1).every((p) => p.size === 128 * 1024)).toBe(true);
  });

  it('rpm2cpio | cpio -idm extracts the files, and the joined parts untar to the image', async () => {
    const t = await forge('extract', { templateConf: 'gui=1\nnet.fake-ip=10.1.1.1\n' });
    const out = path.join(work, 'extract-out');
    await mkdir(out);
    await execa('sh', ['-c', `rpm2cpio "$1" | cpio -idm --quiet`, 'sh', t.path], { cwd: out });
    const dest = path.join(out, 'var/lib/qubes/vm-templates/extract');
    expect(await readFile(path.join(dest, 'template.conf'), 'utf8')).toBe('gui=1\nnet.fake-ip=10.1.1.1\n');
    const names = (await readdir(dest)).sort();
    expect(names).not.toContain('root.img');
    const partNames = names.filter((n) => n.startsWith('root.img.part.'));
    expect(partNames).toEqual(t.parts.map((p) => p.name));
    for (const p of t.parts) expect(sha256(await readFile(path.join(dest, p.name)))).toBe(p.sha256);
    await execa('sh', ['-c', 'cat root.img.part.* | tar -xSf -'], { cwd: dest });
    expect((await readFile(path.join(dest, 'root.img'))).equals(await expectedImage())).toBe(true);
  });

  it.each(['gnu-sparse', 'pax-1.0', 'plain'] as const)(
    '%s root image tars restore with GNU tar',
    async (tarFormat) => {
      const t = await forge(`tar-${tarFormat}`, { tarFormat, compressor: 'zstd', partSize: 1024 * 1024 });
      const out = path.join(work, `tar-${tarFormat}-out`);
      await mkdir(out);
      await execa('sh', ['-c', `rpm2cpio "$1" | cpio -idm --quiet`, 'sh', t.path], { cwd: out });
      const dest = path.join(out, `var/lib/qubes/vm-templates/tar-${tarFormat}`);
      const { stdout } = await execa('sh', ['-c', 'cat root.img.part.* | tar -tvf -'], { cwd: dest });
      expect(stdout).toContain('root.img');
      await execa('sh', ['-c', 'cat root.img.part.* | tar -xSf - && test ! -e GNUSparseFile.0'], {
        cwd: dest,
      });
      expect((await readFile(path.join(dest, 'root.img'))).equals(await expectedImage())).toBe(true);
      if (tarFormat === 'plain') expect(t.tarSize).toBeGreaterThan(IMAGE.size);
      else expect(t.tarSize).toBeLessThan(MIB);
    },
  );

  it("packages an existing image file archived by GNU tar, the builder's archiver", async () => {
    const imagePath = path.join(work, 'given-root.img');
    await writeFile(imagePath, await expectedImage());
    const t = await forge('given', {
      image: { path: imagePath },
      tarWriter: 'gnu-tar',
      tarMemberName: '/builder/qubeized_images/given/root.img',
      partSize: 1024 * 1024,
    });
    expect((await rpmkeysCheck(t.path, [keyPath])).ok).toBe(true);
    const out = path.join(work, 'given-out');
    await mkdir(out);
    await execa('sh', ['-c', `rpm2cpio "$1" | cpio -idm --quiet`, 'sh', t.path], { cwd: out });
    const dest = path.join(out, 'var/lib/qubes/vm-templates/given');
    const { stdout } = await execa('sh', ['-c', 'cat root.img.part.* | tar -tf -'], { cwd: dest });
    expect(stdout.trim()).toBe('builder/qubeized_images/given/root.img');
    await execa('sh', ['-c', 'cat root.img.part.* | tar -xSf -'], { cwd: dest });
    expect(
      (await readFile(path.join(dest, 'builder/qubeized_images/given/root.img'))).equals(
        await expectedImage(),
      ),
    ).toBe(true);
  });

  it('rpm -i under bwrap runs the canary %pre and %post (positive control)', async () => {
    const canary = path.join(work, 'canary-installed');
    const t = await forge('canary', { canaryPath: canary });
    const r = await installUnderBwrap(t.path);
    expect(r.exitCode, r.output).toBe(0);
    expect(await readFile(canary, 'utf8')).toBe('pre 1\npost 1\n');
    const part = path.join(r.varDir, 'lib/qubes/vm-templates/canary/root.img.part.00');
    expect(sha256(await readFile(part))).toBe(t.parts[0]!.sha256);
  });

  it('writes the stripped 07070X payload with LONGFILESIZES, which rpm installs', async () => {
    const t = await forge('large-layout', { largeFiles: 'always', partSize: 1024 * 1024 });
    expect((await rpmkeysCheck(t.path, [keyPath])).ok).toBe(true);
    expect(await rpmQuery(t.path, '[%{REQUIRENAME}\n]')).toContain('rpmlib(LargeFiles)');
    expect(await rpmQuery(t.path, '%{LONGFILESIZES}')).not.toBe('(none)');
    // rpm2cpio cannot express the stripped layout and says so (TOOLING.md).
    const payload = await execa('rpm2cpio', [t.path], {
      reject: false,
      encoding: 'buffer',
      stdout: 'ignore',
    });
    expect(payload.exitCode).not.toBe(0);
    expect(Buffer.from(payload.stderr).toString()).toMatch(/over 4GB not supported/);
    const r = await installUnderBwrap(t.path);
    expect(r.exitCode, r.output).toBe(0);
    const dest = path.join(r.varDir, 'lib/qubes/vm-templates/large-layout');
    for (const p of t.parts) expect(sha256(await readFile(path.join(dest, p.name)))).toBe(p.sha256);
  });
});

describe('hostile variants', () => {
  it('unsigned, or signed by another key: rpmkeys refuses', async () => {
    const unsigned = await forge('unsigned', { signingKey: undefined });
    const foreign = await forge('foreign', { signingKey: otherKey });
    for (const pkg of [unsigned.path, foreign.path]) {
      const r = await rpmkeysCheck(pkg, [keyPath]);
      expect(r.ok).toBe(false);
    }
    expect(await rpmQuery(unsigned.path, '%{RSAHEADER}')).toBe('(none)');
  });

  it('corrupt last part: payload digest holds, rpmkeys passes, rpm -i catches the file digest', async () => {
    const t = await forge('corrupt', { mutations: { corruptLastPart: {} } });
    expect((await rpmkeysCheck(t.path, [keyPath])).ok).toBe(true);
    const last = t.parts.at(-1)!;
    const digests = await rpmQuery(t.path, '[%{FILEDIGESTS}\n]');
    expect(digests.split('\n')).toContain(last.sha256);
    const r = await installUnderBwrap(t.path);
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toMatch(/[Dd]igest mismatch/);
  });

  it('payload digest mismatch: rpmkeys refuses', async () => {
    const t = await forge('paydigest', { mutations: { payloadDigestMismatch: true } });
    const r = await rpmkeysCheck(t.path, [keyPath]);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/digest/i);
  });

  it('header NAME of another package, signed', async () => {
    const t = await forge('innocent', { mutations: { headerName: 'qubes-template-dom0-takeover' } });
    expect(t.fileName).toBe('qubes-template-innocent-4.2.0-202601010000.noarch.rpm');
    expect((await rpmkeysCheck(t.path, [keyPath])).ok).toBe(true);
    expect(await rpmQuery(t.path, '%{NAME}')).toBe('qubes-template-dom0-takeover');
  });

  it('payload entries the header does not list: unlisted file, symlink, device, ../ path', async () => {
    const t = await forge('smuggler', {
      mutations: {
        unlistedFile: { path: '/var/lib/qubes/vm-templates/smuggler/extra.sh', content: 'echo hi\n' },
        cpioEntries: [
          { name: './var/lib/qubes/vm-templates/smuggler/link', kind: 'symlink', linkTo: '/etc/shadow' },
          {
            name: './var/lib/qubes/vm-templates/smuggler/dev',
            kind: 'chardev',
            rdev: { major: 1, minor: 3 },
          },
          { name: './../../../etc/cron.d/evil', kind: 'file', content: '* * * * * root true\n' },
        ],
      },
    });
    expect((await rpmkeysCheck(t.path, [keyPath])).ok).toBe(true);
    const listed = await rpmQuery(t.path, '[%{FILENAMES}\n]');
    expect(listed).not.toMatch(/extra\.sh|\/link|\/dev$|cron/);
    const { stdout } = await execa('sh', ['-c', `rpm2cpio "$1" | cpio -tv --quiet`, 'sh', t.path]);
    expect(stdout).toMatch(/-rw-r--r-- .*\.\/var\/lib\/qubes\/vm-templates\/smuggler\/extra\.sh/);
    expect(stdout).toMatch(/lrwxrwxrwx .*smuggler\/link -> \/etc\/shadow/);
    expect(stdout).toMatch(/crw------- .*1,\s+3 .*smuggler\/dev/);
    expect(stdout).toContain('./../../../etc/cron.d/evil');
  });

  it('layouts no builder makes, signed: files outside the template directory, a FIFO, symlinks', async () => {
    const dir = '/var/lib/qubes/vm-templates/odd';
    const t = await forge('odd', {
      mutations: {
        extraFiles: [
          { path: '/etc/profile.d/evil.sh', kind: 'file', content: 'echo hi\n' },
          { path: `${dir}/root.img.part.x`, kind: 'file', content: 'x' },
        ],
        replacedFiles: {
          'template.conf': { kind: 'symlink', linkTo: '/etc/shadow' },
          'whitelisted-appmenus.list': { kind: 'fifo' },
          apps: { kind: 'symlink', linkTo: '/etc' },
        },
      },
    });
    expect((await rpmkeysCheck(t.path, [keyPath])).ok).toBe(true);
    const listed = (await rpmQuery(t.path, '[%{FILEMODES:perms} %{FILENAMES} %{FILELINKTOS}\n]')).split('\n');
    expect(listed).toContain('-rw-r--r-- /etc/profile.d/evil.sh ');
    expect(listed).toContain(`-rw-r--r-- ${dir}/root.img.part.x `);
    expect(listed).toContain(`lrwxrwxrwx ${dir}/template.conf /etc/shadow`);
    expect(listed).toContain(`prw-r--r-- ${dir}/whitelisted-appmenus.list `);
    expect(listed).toContain(`lrwxrwxrwx ${dir}/apps /etc`);
    const { stdout } = await execa('sh', ['-c', `rpm2cpio "$1" | cpio -tv --quiet`, 'sh', t.path]);
    expect(stdout).toMatch(/prw-r--r-- .*odd\/whitelisted-appmenus\.list/);
    expect(stdout).toMatch(/lrwxrwxrwx .*odd\/apps -> \/etc/);
  });

  it('oversize declared sizes', async () => {
    const t = await forge('oversize', {
      mutations: { oversize: { installedSize: 5 * 1024 ** 4, lastPartSize: 6 * 1024 ** 3 } },
    });
    expect(await rpmQuery(t.path, '%{LONGSIZE}')).toBe(String(5 * 1024 ** 4));
    const sizes = (await rpmQuery(t.path, '[%{FILENAMES} %{LONGFILESIZES}\n]')).trim().split('\n');
    expect(sizes).toContain(`/var/lib/qubes/vm-templates/oversize/${t.parts.at(-1)!.name} ${6 * 1024 ** 3}`);
  });

  it('scriptlets that write outside the template directory run under rpm -i', async () => {
    const outside = path.join(work, 'outside-written');
    const t = await forge('scripted', {
      mutations: { scripts: { pre: `echo owned > '${outside}'` } },
    });
    expect(await rpmQuery(t.path, '%{PREIN}')).toBe(`echo owned > '${outside}'`);
    const r = await installUnderBwrap(t.path);
    expect(r.exitCode, r.output).toBe(0);
    expect(await readFile(outside, 'utf8')).toBe('owned\n');
  });
});

describe('writeRpm', () => {
  it('writes a package with no scriptlets and a symlink that rpm -i installs', async () => {
    const out = path.join(work, 'plain.rpm');
    await writeRpm(
      {
        name: 'plain',
        version: '1',
        release: '1',
        summary: 's',
        description: 'd',
        license: 'MIT',
        buildtime: BUILDTIME,
        compressor: 'gzip',
        files: [
          { path: '/var/plain/a.txt', kind: 'file', content: 'A\n' },
          { path: '/var/plain/b', kind: 'symlink', linkTo: 'a.txt' },
        ],
      },
      { outPath: out, signingKey: key },
    );
    expect((await rpmkeysCheck(out, [keyPath])).ok).toBe(true);
    const r = await installUnderBwrap(out);
    expect(r.exitCode, r.output).toBe(0);
    expect(await readFile(path.join(r.varDir, 'plain/b'), 'utf8')).toBe('A\n');
  });
});
