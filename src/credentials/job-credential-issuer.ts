/**
 * Mints, revokes and rotates per-job credentials (worker side: needs the private key folder).
 * A token is an EdDSA JWT scoped to one job. It lives `tokenLifetimeMs` at most (never past the
 * job's deadline + grace), so a verifier that checks only the JWKS and `exp` stops accepting it
 * soon after the job ends; the worker re-mints while the job runs (see queue/job-grants.ts).
 * Revocation ends it at once for introspection and the gateway. A mint is refused, inside the
 * same atomic write, when the API key that submitted the job is revoked or missing. The token
 * is secret material: it is returned once and never stored or logged; records carry only its `jti`.
 */
import { z } from 'zod';
import { AppError, LuaScript, newId, redisCall, releaseLock, tryLock } from '../shared/index.js';
import { apiKeyRedisKey } from './api-key-store.js';
import { signJws } from './compact-jws.js';
import { JobGrantSchema, type JobClaims, type JobGrant } from './job-claims.js';
import { JobCredentialVerifier, type JobCredentialVerifierOptions } from './job-credential-verifier.js';
import { decodePublishedKey, encodePublishedKey } from './published-keys.js';
import { SigningKeyDir, ensureSigningKey, type JobSigningKey } from './signing-key-dir.js';

export interface JobCredentialIssuerOptions extends JobCredentialVerifierOptions {
  /** Folder of the private signing key (created 0700, key file 0600). */
  readonly keyDir: string;
}

export interface MintInput extends JobGrant {
  /** When the job must have ended (epoch ms). */
  readonly deadlineMs: number;
  /** Overrides options.graceMs for this token. */
  readonly graceMs?: number;
}

const MINT_SCRIPT = new LuaScript({
  name: 'credential-mint',
  doc: `Records a minted token: its key published, its liveness mark, its jti in the job's set.
A key that may no longer act gets no credential, however its job got this far (a revoke racing
the job's start loses nothing): returns 'missing' or 'revoked' with nothing written, else 'ok'.`,
  keys: {
    jwks: 'hash: published keys, kid -> JSON',
    active: "string: the token's liveness mark (expires)",
    jobTokens: "set: the job's jtis",
    apiKey: 'hash: the API key that submitted the job',
  },
  args: { kid: 'the signing key id', published: 'published-key JSON', mark: 'liveness-mark JSON', ttlMs: 'lifetime of the mark and the set', jti: 'the token id' },
  reply: z.enum(['ok', 'missing', 'revoked']),
  body: `
if not redis.call('HGET', KEY.apiKey, 'id') then return 'missing' end
if redis.call('HEXISTS', KEY.apiKey, 'revokedAt') == 1 then return 'revoked' end
redis.call('HSETNX', KEY.jwks, ARG.kid, ARG.published)
redis.call('SET', KEY.active, ARG.mark, 'PX', ARG.ttlMs)
redis.call('SADD', KEY.jobTokens, ARG.jti)
redis.call('PEXPIRE', KEY.jobTokens, ARG.ttlMs)
return 'ok'
`,
});

export interface MintedCredential {
  /** The bearer token. Secret: hand it to the job only; never log or store it. */
  readonly token: string;
  readonly jti: string;
  readonly kid: string;
  /** JWT `exp`, in seconds since the epoch. */
  readonly exp: number;
  readonly expiresAtMs: number;
}

export interface RotationResult {
  readonly kid: string;
  readonly retiredKid: string | undefined;
  /** When the retired key leaves the JWKS (it stopped signing + maxLifetimeMs). */
  readonly retiredNotAfterMs: number | undefined;
}

const ROTATE_LOCK_MS = 30_000;

export class JobCredentialIssuer extends JobCredentialVerifier {
  private readonly dir: SigningKeyDir;

  private constructor(opts: JobCredentialIssuerOptions) {
    super(opts);
    this.dir = new SigningKeyDir(opts.keyDir);
  }

  /** Loads the signing key (creating it when the folder has none) and publishes its public half. */
  static async open(opts: JobCredentialIssuerOptions): Promise<JobCredentialIssuer> {
    await ensureSigningKey(opts.keyDir);
    const issuer = new JobCredentialIssuer(opts);
    await issuer.publish(await issuer.dir.current());
    return issuer;
  }

  /** kid of the key the next mint signs with. */
  async currentKid(): Promise<string> {
    return (await this.dir.current()).kid;
  }

  async mint(input: MintInput): Promise<MintedCredential> {
    const grant = JobGrantSchema.safeParse({ jobId: input.jobId, keyId: input.keyId, profile: input.profile, tools: input.tools });
    if (!grant.success) throw new AppError('INTERNAL', `invalid credential grant: ${grant.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const graceMs = input.graceMs ?? this.options.graceMs;
    if (!Number.isFinite(input.deadlineMs) || !Number.isInteger(graceMs) || graceMs < 0) {
      throw new AppError('INTERNAL', 'credential deadlineMs and graceMs must be finite, graceMs >= 0');
    }
    const nowMs = this.clock.now();
    const iat = Math.floor(nowMs / 1000);
    const endMs = input.deadlineMs + graceMs;
    if (Math.floor(endMs / 1000) * 1000 <= nowMs) throw new AppError('INTERNAL', `job ${grant.data.jobId}: its deadline has already passed`);
    if (endMs - nowMs > this.options.maxLifetimeMs) {
      throw new AppError('CONFIG_INVALID', `job ${grant.data.jobId}: credential lifetime ${endMs - nowMs} ms exceeds maxLifetimeMs ${this.options.maxLifetimeMs}`);
    }
    // one token lives tokenLifetimeMs at most: the worker re-mints while the job runs
    const exp = Math.floor(Math.min(endMs, nowMs + this.options.tokenLifetimeMs) / 1000);
    const expiresAtMs = exp * 1000;
    const key = await this.dir.current();
    const jti = newId('jti', 16);
    const { audience, issuer } = this.options;
    const claims: JobClaims = {
      iss: issuer,
      sub: grant.data.jobId,
      aud: audience.length === 1 ? audience[0]! : [...audience],
      iat,
      nbf: iat,
      exp,
      jti,
      airlock: { ...grant.data, tools: [...new Set(grant.data.tools)].sort() },
    };
    const token = signJws({ alg: 'EdDSA', typ: 'JWT', kid: key.kid }, claims, key.privateKey);
    const ttlMs = expiresAtMs - nowMs + this.options.activeSlackMs;
    const written = await MINT_SCRIPT.run(
      this.redis,
      { jwks: this.keys.jwks, active: this.keys.active(jti), jobTokens: this.keys.job(grant.data.jobId), apiKey: apiKeyRedisKey(this.prefix, grant.data.keyId) },
      {
        kid: key.kid,
        published: encodePublishedKey({ jwk: key.jwk, createdAtMs: nowMs, notAfterMs: null }),
        mark: JSON.stringify({ jobId: grant.data.jobId, kid: key.kid, exp }),
        ttlMs,
        jti,
      },
    );
    if (written !== 'ok') {
      throw new AppError('KEY_REVOKED', `job ${grant.data.jobId}: API key ${grant.data.keyId} is ${written === 'missing' ? 'missing' : 'revoked'}; no credential is minted`);
    }
    return { token, jti, kid: key.kid, exp, expiresAtMs };
  }

  /** Ends one token now. Idempotent: true when it was still active. */
  async revoke(jti: string): Promise<boolean> {
    return (await redisCall(`revoke credential ${jti}`, () => this.redis.del(this.keys.active(jti)))) === 1;
  }

  /**
   * Makes a new key current. The old key stops signing now and stays published until
   * now + maxLifetimeMs, so every token it signed still verifies until it expires.
   * One rotation at a time per prefix (a Redis lock); a concurrent call fails, retryable.
   */
  async rotate(): Promise<RotationResult> {
    const holder = await tryLock(this.redis, this.keys.rotateLock, ROTATE_LOCK_MS);
    if (holder === undefined) throw new AppError('INTERNAL', 'another job credential key rotation is in progress', { retryable: true });
    try {
      const old = await this.dir.current();
      const next = await this.dir.replace((key) => this.publish(key));
      const nowMs = this.clock.now();
      const entry = decodePublishedKey(old.kid, await redisCall('read a published job credential key', () => this.redis.hget(this.keys.jwks, old.kid)));
      let retiredNotAfterMs: number | undefined;
      if (entry !== undefined) {
        const notAfterMs = entry.notAfterMs ?? nowMs + this.options.maxLifetimeMs;
        retiredNotAfterMs = notAfterMs;
        await redisCall('retire a job credential key', () => this.redis.hset(this.keys.jwks, old.kid, encodePublishedKey({ ...entry, notAfterMs })));
      }
      return { kid: next.kid, retiredKid: old.kid === next.kid ? undefined : old.kid, retiredNotAfterMs };
    } finally {
      await releaseLock(this.redis, this.keys.rotateLock, holder);
    }
  }

  private async publish(key: JobSigningKey): Promise<void> {
    await redisCall('publish a job credential key', () =>
      this.redis.hsetnx(this.keys.jwks, key.kid, encodePublishedKey({ jwk: key.jwk, createdAtMs: this.clock.now(), notAfterMs: null })),
    );
  }
}
