/**
 * loadKeyring and the `tmpl verify` command line around it: key files as gpg exports them, and
 * the ways a keyring file can be wrong.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TmplError } from '../../../protocol/errors.ts';
import { commands } from '../../../orchestrator/cli/commands/index.ts';
import { loadKeyring, MAX_KEYRING_FILE_BYTES } from '../../../orchestrator/verify/keyring.ts';
import { makeGpgKey, removeGpgKey, type GpgKey, GPG_BATCH } from '../../helpers/rpm-fixtures.ts';
import { runTmplAlone } from '../../helpers/kit/index.ts';

let dir: string;
let a: GpgKey;
let b: GpgKey;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-keyring-'));
  [a, b] = await Promise.all([makeGpgKey('Keyring A'), makeGpgKey('Keyring B')]);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await Promise.all([a, b].filter(Boolean).map(removeGpgKey));
});

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, content);
  return p;
}

async function keyringCode(paths: string[]): Promise<string> {
  try {
    await loadKeyring(paths);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(TmplError);
    return (e as TmplError).code;
  }
}

const fingerprints = (keys: Awaited<ReturnType<typeof loadKeyring>>) =>
  keys.map((k) => k.getFingerprint().toUpperCase());

describe('loadKeyring', () => {
  it('reads one key per file, several files, several blocks per file, several keys per block', async () => {
    expect(fingerprints(await loadKeyring([a.publicKeyPath]))).toEqual([a.fingerprint]);
    expect(fingerprints(await loadKeyring([a.publicKeyPath, b.publicKeyPath]))).toEqual([
      a.fingerprint,
      b.fingerprint,
    ]);
    const twoBlocks = await file(
      'two-blocks.asc',
      `comment line\n${a.publicKeyArmored}\n\n${b.publicKeyArmored}\n`,
    );
    expect(fingerprints(await loadKeyring([twoBlocks]))).toEqual([a.fingerprint, b.fingerprint]);
    // gpg --export of two keys writes them in one armored block.
    const env = { GNUPGHOME: a.gnupgHome };
    await execa('gpg', ['--batch', '--import', b.publicKeyPath], { env });
    const { stdout: armored } = await execa(
      'gpg',
      ['--batch', '--armor', '--export', a.fingerprint, b.fingerprint],
      { env },
    );
    expect(armored.match(/BEGIN PGP PUBLIC KEY BLOCK/g)).toHaveLength(1);
    const p = await file('one-block.asc', armored);
    expect(fingerprints(await loadKeyring([p]))).toEqual([a.fingerprint, b.fingerprint]);
  });

  it('refuses missing files, directories, garbage, binary keys, secret keys and huge files', async () => {
    expect(await keyringCode([path.join(dir, 'missing.asc')])).toBe('config.keyring');
    expect(await keyringCode([dir])).toBe('config.keyring');
    expect(await keyringCode([await file('garbage.asc', 'hello\n')])).toBe('config.keyring');
    // Half the base64 body gone: the key packets end early.
    const lines = a.publicKeyArmored.split('\n');
    const broken = [...lines.slice(0, 4), ...lines.slice(Math.floor(lines.length / 2))].join('\n');
    expect(await keyringCode([await file('broken.asc', broken)])).toBe('config.keyring');
    const { stdout: bin } = await execa('gpg', ['--batch', '--export', a.fingerprint], {
      env: { GNUPGHOME: a.gnupgHome },
      encoding: 'buffer',
    });
    expect(await keyringCode([await file('binary.gpg', bin)])).toBe('config.keyring');
    const { stdout: secret } = await execa(
      'gpg',
      [...GPG_BATCH, '--armor', '--export-secret-keys', a.fingerprint],
      { env: { GNUPGHOME: a.gnupgHome } },
    );
    expect(await keyringCode([await file('secret.asc', secret)])).toBe('config.keyring');
    expect(await keyringCode([await file('huge.asc', new Uint8Array(MAX_KEYRING_FILE_BYTES + 1))])).toBe(
      'config.keyring',
    );
    expect(await loadKeyring([])).toEqual([]);
  });
});

describe('tmpl verify command line', () => {
  const tmpl = (args: string[]) => runTmplAlone(['verify', ...args]);

  it('exits 2 on usage errors and 0 on --help, and is listed among the commands', async () => {
    const none = await tmpl([]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('no package given');
    const help = await tmpl(['--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('usage: tmpl verify');
    expect(commands.map((c) => c.name)).toContain('verify');
  });

  it('exits 1 with the keyring error code for a bad keyring, and reports unreadable packages', async () => {
    const bad = await tmpl(['--keyring', path.join(dir, 'missing.asc'), 'x.rpm']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('[config.keyring]');
    const missing = path.join(dir, 'missing.rpm');
    const notRpm = await file('not.rpm', 'plain text, not a package\n'.repeat(10));
    const r = await tmpl(['--nogpgcheck', missing, notRpm]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${missing}: digests NOT OK \\(io.read: `)),
      expect.stringMatching(new RegExp(`^${notRpm}: digests NOT OK \\(rpm\\.lead\\.magic: `)),
      '',
    ]);
  });
});
