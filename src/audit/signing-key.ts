/**
 * The Ed25519 key that signs checkpoints. The private key lives in one PKCS8 PEM file
 * (0600); verifiers only need the public key, which `airlock audit pubkey` prints.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError, sha256Hex } from '../shared/index.js';

/** A public key that checkpoints may be verified with; keyId names it inside each checkpoint. */
export interface VerifyKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;
}

export interface SigningKey extends VerifyKey {
  readonly privateKey: KeyObject;
}

/** First 16 hex chars of sha256(SPKI DER): stable across PEM formatting. */
export function keyIdOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

export function signingKeyFromPem(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new AppError('CONFIG_INVALID', 'audit signing key is not a readable PEM private key', { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AppError('CONFIG_INVALID', 'audit signing key must be Ed25519');
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

export function verifyKeyFromPem(pem: string): VerifyKey {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new AppError('CONFIG_INVALID', 'audit public key is not a readable PEM key', { cause: err });
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new AppError('CONFIG_INVALID', 'audit public key must be Ed25519');
  return { keyId: keyIdOf(publicKey), publicKey };
}

/** SPKI PEM of the public half: what `airlock audit pubkey` prints and verifiers trust. */
export function publicKeyPem(key: VerifyKey): string {
  return key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * Loads the key at `path`, creating it (and its folder, 0700) if missing. Creation uses the
 * exclusive flag, so two processes starting together end up with the same key. A key file
 * readable by group or others is refused, like ssh does.
 */
export async function loadOrCreateSigningKey(path: string): Promise<SigningKey> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    await writeFile(path, pem, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new AppError('CONFIG_INVALID', `cannot create audit signing key ${path}`, { cause: err });
    }
  }
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new AppError('CONFIG_INVALID', `audit signing key ${path} is accessible by group/others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  return signingKeyFromPem(await readFile(path, 'utf8'));
}
