/**
 * OpenPGP keys and detached signatures for forged packages and repositories (openpgp.js).
 *
 * RSA keys by default: Debian 12's rpm 4.18 verifies V4 RSA signatures with every crypto backend
 * it is built with. The key has no subkeys, so rpm's key import and signature lookup by issuer
 * key id both land on the primary key.
 */
import * as openpgp from 'openpgp';

export interface SigningKey {
  readonly privateKey: openpgp.PrivateKey;
  readonly publicKeyArmored: string;
  /** Long key id, 16 uppercase hex digits. */
  readonly keyId: string;
  /** 40 uppercase hex digits. */
  readonly fingerprint: string;
}

export interface GenerateSigningKeyOptions {
  readonly type?: 'rsa' | 'ed25519';
  /** RSA modulus size; 2048 keeps tests fast. */
  readonly rsaBits?: 2048 | 3072 | 4096;
  /** Key creation time (signatures must not predate it). */
  readonly date?: Date;
}

/**
 * V4 signatures without openpgp.js's random salt notation: rpm's parser need not know the
 * notation, and signatures stay plain RFC 4880 packets.
 */
const SIGN_CONFIG: Partial<openpgp.Config> = {
  nonDeterministicSignaturesViaNotation: false,
  // The Qubes builder signs with --digest-algo=sha256.
  preferredHashAlgorithm: openpgp.enums.hash.sha256,
};

export async function generateSigningKey(
  name: string,
  options: GenerateSigningKeyOptions = {},
): Promise<SigningKey> {
  const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-') || 'key'}@example.invalid`;
  const common = {
    userIDs: [{ name, email }],
    subkeys: [],
    format: 'object' as const,
    config: { v6Keys: false, preferredHashAlgorithm: openpgp.enums.hash.sha256 },
    ...(options.date ? { date: options.date } : {}),
  };
  const { privateKey } =
    options.type === 'ed25519'
      ? await openpgp.generateKey({ ...common, type: 'ecc', curve: 'ed25519Legacy' })
      : await openpgp.generateKey({ ...common, type: 'rsa', rsaBits: options.rsaBits ?? 2048 });
  return {
    privateKey,
    publicKeyArmored: privateKey.toPublic().armor(),
    keyId: privateKey.getKeyID().toHex().toUpperCase(),
    fingerprint: privateKey.getFingerprint().toUpperCase(),
  };
}

/** A detached binary V4 signature packet over `data` (what rpm stores in RSAHEADER, tag 268). */
export async function signDetachedBinary(
  key: SigningKey,
  data: Uint8Array,
  date?: Date,
): Promise<Uint8Array> {
  const message = await openpgp.createMessage({ binary: data });
  return openpgp.sign({
    message,
    signingKeys: key.privateKey,
    detached: true,
    format: 'binary',
    config: SIGN_CONFIG,
    ...(date ? { date } : {}),
  });
}

/** A detached armoured signature over `data`, as `gpg --detach-sign --armor` writes repomd.xml.asc. */
export async function signDetachedArmored(key: SigningKey, data: Uint8Array, date?: Date): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  return openpgp.sign({
    message,
    signingKeys: key.privateKey,
    detached: true,
    format: 'armored',
    config: SIGN_CONFIG,
    ...(date ? { date } : {}),
  });
}

/** The private key as an armoured OpenPGP block (unencrypted), to hand to another process. */
export function exportPrivateKey(key: SigningKey): string {
  return key.privateKey.armor();
}

/** Loads a key written by exportPrivateKey (or `gpg --export-secret-keys --armor`, unprotected). */
export async function loadSigningKey(armored: string): Promise<SigningKey> {
  const privateKey = await openpgp.readPrivateKey({ armoredKey: armored });
  return {
    privateKey,
    publicKeyArmored: privateKey.toPublic().armor(),
    keyId: privateKey.getKeyID().toHex().toUpperCase(),
    fingerprint: privateKey.getFingerprint().toUpperCase(),
  };
}

/**
 * A detached binary signature over a stream (rpmsign --rpmv3's header+payload signature), read
 * once; openpgp.js hashes it as it flows.
 */
export async function signDetachedStream(
  key: SigningKey,
  source: AsyncIterable<Uint8Array>,
  date?: Date,
): Promise<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
  const message = await openpgp.createMessage({ binary: stream });
  const signature = await openpgp.sign({
    message,
    signingKeys: key.privateKey,
    detached: true,
    format: 'binary',
    config: SIGN_CONFIG,
    ...(date ? { date } : {}),
  });
  if (signature instanceof Uint8Array) return signature;
  // Streamed input gives a streamed signature (openpgp's WebStream type is a web ReadableStream).
  return new Uint8Array(await new Response(signature as ReadableStream<Uint8Array>).arrayBuffer());
}

/** True for RSA keys; rpm files other algorithms' signatures under the DSA/GPG tags. */
export function isRsaKey(key: SigningKey): boolean {
  return key.privateKey.getAlgorithmInfo().algorithm.startsWith('rsa');
}
