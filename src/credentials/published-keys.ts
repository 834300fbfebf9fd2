/**
 * The Redis side of job credentials: key names, and the published public keys (JWKS).
 * `{prefix}:cred:jwks` is a hash kid → JSON `{ jwk, createdAtMs, notAfterMs }`;
 * `notAfterMs` is null while the key may still sign, and set when it is retired.
 * Only public material and token ids are ever written to Redis, never a token.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keyRoot, redisCall } from '../shared/index.js';
import type { Ed25519Jwk } from './compact-jws.js';

export interface CredentialKeys {
  readonly jwks: string;
  readonly rotateLock: string;
  /** Liveness mark of one token: exists ⇔ not revoked and not past exp (+ slack). */
  active(jti: string): string;
  /** The jtis minted for one job, so all of them can be revoked together. */
  job(jobId: string): string;
}

export function credentialKeys(prefix: string): CredentialKeys {
  const root = `${keyRoot(prefix)}:cred`;
  return {
    jwks: `${root}:jwks`,
    rotateLock: `${root}:rotate-lock`,
    active: (jti) => `${root}:active:${jti}`,
    job: (jobId) => `${root}:job:${jobId}`,
  };
}

const PublishedKeySchema = z.strictObject({
  jwk: z.strictObject({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    kid: z.string().min(1),
    alg: z.literal('EdDSA'),
    use: z.literal('sig'),
  }),
  createdAtMs: z.number().int(),
  notAfterMs: z.number().int().nullable(),
});
export type PublishedKey = z.infer<typeof PublishedKeySchema>;

export function encodePublishedKey(entry: PublishedKey): string {
  return JSON.stringify(entry);
}

/** undefined for a damaged entry: it verifies nothing. */
export function decodePublishedKey(kid: string, json: string | null | undefined): PublishedKey | undefined {
  if (json === null || json === undefined) return undefined;
  try {
    const parsed = PublishedKeySchema.safeParse(JSON.parse(json));
    return parsed.success && parsed.data.jwk.kid === kid ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function isPublished(entry: PublishedKey, nowMs: number): boolean {
  return entry.notAfterMs === null || nowMs < entry.notAfterMs;
}

/** RFC 7517 JWK Set. */
export interface Jwks {
  readonly keys: readonly Ed25519Jwk[];
}

/** The published keys, newest first; prunes entries past their notAfter. */
export async function readJwks(redis: Redis, keys: CredentialKeys, nowMs: number): Promise<Jwks> {
  const all = await redisCall('read the published job credential keys', () => redis.hgetall(keys.jwks));
  const live: PublishedKey[] = [];
  const dead: string[] = [];
  for (const [kid, json] of Object.entries(all)) {
    const entry = decodePublishedKey(kid, json);
    if (entry !== undefined && isPublished(entry, nowMs)) live.push(entry);
    else if (entry !== undefined) dead.push(kid);
  }
  if (dead.length > 0) await redisCall('prune retired job credential keys', () => redis.hdel(keys.jwks, ...dead));
  live.sort((a, b) => b.createdAtMs - a.createdAtMs || a.jwk.kid.localeCompare(b.jwk.kid));
  return { keys: live.map((e) => e.jwk) };
}
