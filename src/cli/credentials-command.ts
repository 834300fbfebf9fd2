/**
 * `airlock credentials rotate`: on a worker host, start signing job tokens with a new key.
 * The old public key stays in the JWKS until every token it signed has expired.
 */
import type { Config } from '../config.js';
import { JobCredentialIssuer } from '../credentials/index.js';
import { connectRedis } from '../main.js';
import { AppError, systemClock } from '../shared/index.js';

export async function credentialsCommand(sub: string | undefined, config: Config, out: (s: string) => void): Promise<number> {
  if (sub !== 'rotate') throw new AppError('INVALID_REQUEST', 'usage: airlock credentials rotate');
  const redis = await connectRedis(config.redis, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  try {
    const issuer = await JobCredentialIssuer.open({
      redis,
      prefix: config.redis.prefix,
      clock: systemClock,
      options: config.credentials.options,
      keyDir: config.credentials.keyDir,
    });
    const r = await issuer.rotate();
    out(`signing with ${r.kid}${r.retiredKid !== undefined ? `; ${r.retiredKid} stays published until ${new Date(r.retiredNotAfterMs ?? 0).toISOString()}` : ''}`);
    return 0;
  } finally {
    redis.disconnect();
  }
}
