/**
 * Mints, revokes and rotates per-job credentials (worker side: needs the private key folder).
 * A token is an EdDSA JWT scoped to one job that dies at the job's deadline + grace, or
 * earlier when revoked. The token is secret material: it is returned once and never stored
 * or logged; records carry only its `jti`.
 */
import { randomBytes } from 'node:crypto';
import { AppError, newId } from '../shared/index.js';
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
// KEYS[1] lock key; ARGV[1] the holder's value. Deletes the lock only if we still hold it.
const RELEASE_LOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

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
    const exp = Math.floor((input.deadlineMs + graceMs) / 1000);
    const expiresAtMs = exp * 1000;
    if (expiresAtMs <= nowMs) throw new AppError('INTERNAL', `job ${grant.data.jobId}: its deadline has already passed`);
    if (expiresAtMs - nowMs > this.options.maxLifetimeMs) {
      throw new AppError('CONFIG_INVALID', `job ${grant.data.jobId}: credential lifetime ${expiresAtMs - nowMs} ms exceeds maxLifetimeMs ${this.options.maxLifetimeMs}`);
    }
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
    const replies = await this.redis
      .multi()
      .hsetnx(this.keys.jwks, key.kid, encodePublishedKey({ jwk: key.jwk, createdAtMs: nowMs, notAfterMs: null }))
      .set(this.keys.active(jti), JSON.stringify({ jobId: grant.data.jobId, kid: key.kid, exp }), 'PX', ttlMs)
      .sadd(this.keys.job(grant.data.jobId), jti)
      .pexpire(this.keys.job(grant.data.jobId), ttlMs)
      .exec();
    for (const [err] of replies ?? []) if (err) throw new AppError('REDIS_UNAVAILABLE', 'could not record the job credential', { retryable: true, cause: err });
    return { token, jti, kid: key.kid, exp, expiresAtMs };
  }

  /** Ends one token now. Idempotent: true when it was still active. */
  async revoke(jti: string): Promise<boolean> {
    return (await this.redis.del(this.keys.active(jti))) === 1;
  }

  /** Ends every token minted for a job (e.g. a retried job's earlier attempts). Returns how many were active. */
  async revokeJob(jobId: string): Promise<number> {
    const jtis = await this.redis.smembers(this.keys.job(jobId));
    if (jtis.length === 0) return 0;
    const replies = await this.redis
      .multi()
      .del(...jtis.map((j) => this.keys.active(j)))
      .del(this.keys.job(jobId))
      .exec();
    const deleted = replies?.[0]?.[1];
    return typeof deleted === 'number' ? deleted : 0;
  }

  /**
   * Makes a new key current. The old key stops signing now and stays published until
   * now + maxLifetimeMs, so every token it signed still verifies until it expires.
   * One rotation at a time per prefix (a Redis lock); a concurrent call fails, retryable.
   */
  async rotate(): Promise<RotationResult> {
    const holder = randomBytes(12).toString('hex');
    if ((await this.redis.set(this.keys.rotateLock, holder, 'PX', ROTATE_LOCK_MS, 'NX')) !== 'OK') {
      throw new AppError('INTERNAL', 'another job credential key rotation is in progress', { retryable: true });
    }
    try {
      const old = await this.dir.current();
      const next = await this.dir.replace((key) => this.publish(key));
      const nowMs = this.clock.now();
      const entry = decodePublishedKey(old.kid, await this.redis.hget(this.keys.jwks, old.kid));
      let retiredNotAfterMs: number | undefined;
      if (entry !== undefined) {
        retiredNotAfterMs = entry.notAfterMs ?? nowMs + this.options.maxLifetimeMs;
        await this.redis.hset(this.keys.jwks, old.kid, encodePublishedKey({ ...entry, notAfterMs: retiredNotAfterMs }));
      }
      return { kid: next.kid, retiredKid: old.kid === next.kid ? undefined : old.kid, retiredNotAfterMs };
    } finally {
      await this.redis.eval(RELEASE_LOCK, 1, this.keys.rotateLock, holder);
    }
  }

  private async publish(key: JobSigningKey): Promise<void> {
    await this.redis.hsetnx(this.keys.jwks, key.kid, encodePublishedKey({ jwk: key.jwk, createdAtMs: this.clock.now(), notAfterMs: null }));
  }
}
