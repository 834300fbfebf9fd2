/**
 * `airlock credentials rotate`: on a worker host, start signing job tokens with a new key (a
 * `credential.rotate` record, actor system via cli). The old public key stays in the JWKS until
 * every token it signed has expired.
 */
import type { Config } from '../config.js';
import { AppError, rotateJobCredentials } from '../root/index.js';

export async function credentialsCommand(sub: string | undefined, config: Config, out: (s: string) => void): Promise<number> {
  if (sub !== 'rotate') throw new AppError('INVALID_REQUEST', 'usage: airlock credentials rotate');
  const r = await rotateJobCredentials(config);
  out(`signing with ${r.kid}${r.retiredKid !== undefined ? `; ${r.retiredKid} stays published until ${new Date(r.retiredNotAfterMs ?? 0).toISOString()}` : ''}`);
  return 0;
}
