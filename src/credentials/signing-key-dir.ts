/**
 * The issuer's private signing key on disk: `<keyDir>/current.pem`, PKCS8 PEM, mode 0600 in
 * a 0700 folder. Exactly one key signs at a time; rotation writes the next key beside it and
 * renames it over `current.pem` (atomic), so every process sharing the folder picks it up on
 * its next mint and a retired private key is gone from disk at once.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../shared/index.js';
import { ed25519Jwk, type Ed25519Jwk } from './compact-jws.js';

export const CURRENT_KEY_FILE = 'current.pem';

export interface JobSigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: Ed25519Jwk;
}

function newPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function keyFromPem(pem: string, file: string): JobSigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `job signing key ${file} is not a readable PEM private key`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AppError('CONFIG_INVALID', `job signing key ${file} must be Ed25519`);
  const jwk = ed25519Jwk(createPublicKey(privateKey));
  return { kid: jwk.kid, privateKey, jwk };
}

/** Creates the folder (0700) and, when missing, a first key; two processes starting together end up with one key. */
export async function ensureSigningKey(keyDir: string): Promise<void> {
  try {
    await mkdir(keyDir, { recursive: true, mode: 0o700 });
    await writeFile(join(keyDir, CURRENT_KEY_FILE), newPem(), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new AppError('CONFIG_INVALID', `cannot create job signing key in ${keyDir}`, { cause: err });
    }
  }
}

/** Reads the current key; the last parse is kept so a mint does not re-import an unchanged file. */
export class SigningKeyDir {
  private last: { pem: string; key: JobSigningKey } | undefined;

  constructor(readonly keyDir: string) {}

  get currentFile(): string {
    return join(this.keyDir, CURRENT_KEY_FILE);
  }

  async current(): Promise<JobSigningKey> {
    const file = this.currentFile;
    let pem: string;
    try {
      const info = await stat(file);
      if ((info.mode & 0o077) !== 0) {
        throw new AppError('CONFIG_INVALID', `job signing key ${file} is accessible by group/others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
      }
      pem = await readFile(file, 'utf8');
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('CONFIG_INVALID', `cannot read job signing key ${file}`, { cause: err });
    }
    if (this.last?.pem !== pem) this.last = { pem, key: keyFromPem(pem, file) };
    return this.last.key;
  }

  /**
   * Generates the next key and hands it to `publish` BEFORE it becomes current (a token is
   * never signed by a key verifiers cannot find), then renames it over `current.pem`.
   */
  async replace(publish: (key: JobSigningKey) => Promise<void>): Promise<JobSigningKey> {
    const pem = newPem();
    const key = keyFromPem(pem, 'next');
    const tmp = join(this.keyDir, `next-${randomBytes(6).toString('hex')}.pem`);
    await writeFile(tmp, pem, { flag: 'wx', mode: 0o600 });
    try {
      await publish(key);
      await rename(tmp, this.currentFile);
    } finally {
      await rm(tmp, { force: true });
    }
    this.last = { pem, key };
    return key;
  }
}
