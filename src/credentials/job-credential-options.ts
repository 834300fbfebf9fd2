/**
 * Settings of per-job credentials, validated once at start-up with defaults in this one
 * place. The verifier (API) and the issuer (worker) must be given the same values.
 */
import { z } from 'zod';
import { AppError } from '../shared/index.js';

const ms = z.number().int().min(0);

export const JobCredentialOptionsSchema = z.strictObject({
  /** `iss` of every token, and the only issuer a verifier accepts. */
  issuer: z.string().min(1).max(200).default('airlock'),
  /** `aud` of every token; a verifier accepts a token naming any of these (or the one asked for). */
  audience: z
    .union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).min(1).max(8)])
    .default('airlock-gateway')
    .transform((a) => (typeof a === 'string' ? [a] : [...new Set(a)])),
  /** Added to the job's deadline: the token dies this long after the job must have ended. */
  graceMs: ms.max(10 * 60_000).default(30_000),
  /**
   * Longest lifetime of a token (exp - now at mint). A retired signing key stays published
   * this long after it stopped signing, so every token it signed can still be checked.
   * Must exceed the longest profile timeout + graceMs.
   */
  maxLifetimeMs: ms
    .min(60_000)
    .max(7 * 24 * 3_600_000)
    .default(2 * 3_600_000),
  /**
   * Longest life of one token (exp - now at mint). The worker re-mints every third of this
   * while the job runs and rewrites /run/airlock/token, so a verifier that checks only the
   * JWKS and `exp` refuses a job's last token at most this long after the job ended.
   */
  tokenLifetimeMs: ms.min(5_000).max(600_000).default(30_000),
  /** Extra life of the Redis liveness mark beyond `exp` (the signature check already enforces exp). */
  activeSlackMs: ms.max(3_600_000).default(5_000),
  /** How far `nbf` may lie in the future (clock skew between hosts). `exp` gets no tolerance. */
  clockToleranceMs: ms.max(5 * 60_000).default(5_000),
});
export type JobCredentialOptions = z.infer<typeof JobCredentialOptionsSchema>;

/** Validates the slice; every problem is reported at once as CONFIG_INVALID. */
export function parseJobCredentialOptions(input: z.input<typeof JobCredentialOptionsSchema> = {}): JobCredentialOptions {
  const parsed = JobCredentialOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new AppError('CONFIG_INVALID', `invalid job credential configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return Object.freeze({ ...parsed.data, audience: Object.freeze(parsed.data.audience) as string[] });
}

/**
 * A job's credential is minted before its container is created and started; its deadline is
 * the command's timeout plus this, then `graceMs`. Shared by the worker and the capability matrix.
 */
export const CREDENTIAL_START_SLACK_MS = 10_000;
