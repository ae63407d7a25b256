/**
 * Loads the OpenPGP public keys tmpl trusts for package signatures, from armored files as rpm
 * imports them (`rpmkeys --import`: each file may hold several armored blocks, each block several
 * keys). Secret keys, binary files and empty files are refused with a clear message.
 */
import { readFile, stat } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { TmplError } from '../../protocol/errors.ts';

/** A keyring file larger than this is not a set of public keys. */
export const MAX_KEYRING_FILE_BYTES = 1024 * 1024;

const ARMOR_BLOCK = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g;

function keyringError(path: string, message: string, cause?: unknown): TmplError {
  return new TmplError('config.keyring', `${path}: ${message}`, { cause });
}

/** Reads every public key from the given armored files, in order. */
export async function loadKeyring(paths: readonly string[]): Promise<openpgp.PublicKey[]> {
  const keys: openpgp.PublicKey[] = [];
  for (const path of paths) {
    let text: string;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw keyringError(path, 'not a regular file');
      if (st.size > MAX_KEYRING_FILE_BYTES) {
        throw keyringError(
          path,
          `${st.size} bytes is more than a keyring file may hold (${MAX_KEYRING_FILE_BYTES})`,
        );
      }
      text = await readFile(path, 'utf8');
    } catch (cause) {
      if (cause instanceof TmplError) throw cause;
      throw keyringError(path, `cannot read: ${(cause as Error).message}`, cause);
    }
    if (text.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----')) {
      throw keyringError(path, 'holds a secret key; give the public key only');
    }
    const blocks = text.match(ARMOR_BLOCK) ?? [];
    if (blocks.length === 0) throw keyringError(path, 'no armored OpenPGP public key block');
    for (const [i, block] of blocks.entries()) {
      let found: openpgp.Key[];
      try {
        found = await openpgp.readKeys({ armoredKeys: block });
      } catch (cause) {
        throw keyringError(
          path,
          `key block ${i + 1} is not a valid public key: ${(cause as Error).message}`,
          cause,
        );
      }
      for (const key of found) {
        if (key.isPrivate()) throw keyringError(path, 'holds a secret key; give the public key only');
        keys.push(key);
      }
    }
  }
  return keys;
}
