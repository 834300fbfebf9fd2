/**
 * Checks job tokens with Redis alone (published public keys + liveness marks): what the API
 * process holds to serve introspection and the JWKS, and what the gateway asks on each call.
 * A token is active only when it parses, its kid is published, its signature holds, the
 * issuer is ours, nbf has passed, exp has not, the audience matches and its jti is still
 * marked active (revocation deletes the mark).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { execChecked, redisCall, systemClock, type Clock } from '../shared/index.js';
import { signatureValid, splitJws } from './compact-jws.js';
import { JobClaimsSchema, audiences, type CredentialFailureReason, type Introspection, type JobClaims, type VerifyOutcome } from './job-claims.js';
import { parseJobCredentialOptions, type JobCredentialOptions } from './job-credential-options.js';
import { credentialKeys, decodePublishedKey, isPublished, readJwks, type CredentialKeys, type Jwks } from './published-keys.js';

export interface JobCredentialVerifierOptions {
  readonly redis: Redis;
  /** Redis key prefix (AIRLOCK_REDIS_PREFIX); keys live under `{prefix}:cred:`. */
  readonly prefix: string;
  readonly clock?: Clock;
  /** Validated with parseJobCredentialOptions; must match the issuer's. */
  readonly options?: JobCredentialOptions;
}

export interface VerifyOptions {
  /** Require this audience instead of any configured one. */
  readonly audience?: string;
}

const fail = (reason: CredentialFailureReason): VerifyOutcome => ({ ok: false, reason });

export class JobCredentialVerifier {
  protected readonly redis: Redis;
  protected readonly keys: CredentialKeys;
  protected readonly prefix: string;
  protected readonly clock: Clock;
  readonly options: JobCredentialOptions;
  /** Imported public keys by their `x` (the key itself, so an entry never goes stale). */
  private readonly keyCache = new Map<string, KeyObject>();

  constructor(opts: JobCredentialVerifierOptions) {
    this.redis = opts.redis;
    this.keys = credentialKeys(opts.prefix);
    this.prefix = opts.prefix;
    this.clock = opts.clock ?? systemClock;
    this.options = opts.options ?? parseJobCredentialOptions();
  }

  /** The decoded claims of an active token, or why it is not active. One Redis round trip. */
  async verify(token: string, opts: VerifyOptions = {}): Promise<VerifyOutcome> {
    const parts = splitJws(token);
    if (parts === undefined) return fail('malformed');
    const { alg, typ, kid } = parts.header;
    if (alg !== 'EdDSA' || (typ !== undefined && typ !== 'JWT') || typeof kid !== 'string' || kid.length === 0 || kid.length > 128) {
      return fail('malformed');
    }
    const jti = typeof parts.payload['jti'] === 'string' && parts.payload['jti'].length <= 200 ? parts.payload['jti'] : undefined;
    const pipeline = this.redis.pipeline().hget(this.keys.jwks, kid);
    if (jti !== undefined) pipeline.exists(this.keys.active(jti));
    const [published, live] = await execChecked(pipeline, 'check a job credential');
    const nowMs = this.clock.now();

    const entry = decodePublishedKey(kid, typeof published === 'string' ? published : null);
    if (entry === undefined || !isPublished(entry, nowMs)) return fail('unknown_key');
    if (!signatureValid(parts, this.publicKey(entry.jwk.x))) return fail('bad_signature');

    const parsed = JobClaimsSchema.safeParse(parts.payload);
    if (!parsed.success || parsed.data.sub !== parsed.data.airlock.jobId) return fail('malformed');
    const claims = parsed.data;
    if (claims.iss !== this.options.issuer) return fail('wrong_issuer');
    if (claims.nbf * 1000 > nowMs + this.options.clockToleranceMs) return fail('not_yet_valid');
    if (nowMs >= claims.exp * 1000) return fail('expired');
    const wanted = opts.audience === undefined ? this.options.audience : [opts.audience];
    if (!audiences(claims.aud).some((a) => wanted.includes(a))) return fail('wrong_audience');
    if (live !== 1) return fail('revoked');
    return { ok: true, claims };
  }

  /**
   * Ends every token minted for a job (a retried job's earlier attempts, the jobs of a revoked
   * API key). Needs Redis only, so the API can revoke too. Returns how many were active.
   */
  async revokeJob(jobId: string): Promise<number> {
    const jtis = await redisCall(`list the credentials of job ${jobId}`, () => this.redis.smembers(this.keys.job(jobId)));
    if (jtis.length === 0) return 0;
    const [deleted] = await execChecked(
      this.redis
        .multi()
        .del(...jtis.map((j) => this.keys.active(j)))
        .del(this.keys.job(jobId)),
      `revoke the credentials of job ${jobId}`,
    );
    return typeof deleted === 'number' ? deleted : 0;
  }

  /** RFC 7662: the answer for the caller, and separately the reason for our logs. */
  async introspect(token: string, opts: VerifyOptions = {}): Promise<Introspection> {
    const result = await this.verify(token, opts);
    if (!result.ok) return { response: { active: false }, reason: result.reason };
    const c: JobClaims = result.claims;
    return {
      response: {
        active: true,
        jobId: c.airlock.jobId,
        sub: c.sub,
        tools: c.airlock.tools,
        profile: c.airlock.profile,
        keyId: c.airlock.keyId,
        exp: c.exp,
        iat: c.iat,
        jti: c.jti,
        aud: c.aud,
        iss: c.iss,
        token_type: 'Bearer',
      },
      reason: undefined,
    };
  }

  /** The JWK Set to serve at `/.well-known/jwks.json`; prunes retired keys past their notAfter. */
  async jwks(): Promise<Jwks> {
    return readJwks(this.redis, this.keys, this.clock.now());
  }

  private publicKey(x: string): KeyObject {
    let key = this.keyCache.get(x);
    if (key === undefined) {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
      if (this.keyCache.size >= 64) this.keyCache.clear();
      this.keyCache.set(x, key);
    }
    return key;
  }
}
