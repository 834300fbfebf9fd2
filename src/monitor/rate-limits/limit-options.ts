/**
 * What the limiter allows: defaults per role, a key's own overrides (`airlock keys create/update
 * --rate --max-inflight`), the deployment's queue cap and the per-address limit of traffic no key
 * vouches for. The ranges and defaults live here only (config.ts types the variables).
 */
import { z } from 'zod';

const count = (max: number) => z.number().int().min(1).max(max);

/** One key's limits. Windows are a minute for requests and submissions, a day for input bytes. */
export const KeyLimitsSchema = z.strictObject({
  /** Authenticated API requests per minute (every route). */
  requestsPerMinute: count(1_000_000),
  /** Jobs submitted per minute. */
  submitsPerMinute: count(1_000_000),
  /** Jobs queued + running at once. */
  maxInflight: count(100_000),
  /** Bytes of job input stored per day (what the key can make Redis hold: ≤ this × the result TTL in days). */
  inputBytesPerDay: count(2 ** 40),
});
export type KeyLimits = z.infer<typeof KeyLimitsSchema>;

/** A key's overrides: any subset of its limits. */
export const KeyLimitOverridesSchema = KeyLimitsSchema.partial();
export type KeyLimitOverrides = z.infer<typeof KeyLimitOverridesSchema>;

const AGENT: KeyLimits = { requestsPerMinute: 600, submitsPerMinute: 120, maxInflight: 50, inputBytesPerDay: 2 * 1024 ** 3 };
const SERVICE: KeyLimits = { requestsPerMinute: 1200, submitsPerMinute: 240, maxInflight: 100, inputBytesPerDay: 4 * 1024 ** 3 };
const HUMAN: KeyLimits = { requestsPerMinute: 600, submitsPerMinute: 60, maxInflight: 20, inputBytesPerDay: 1024 ** 3 };

export const LimitOptionsSchema = z.strictObject({
  /** Defaults per role; a key's overrides replace single fields. */
  roles: z
    .strictObject({ agent: KeyLimitsSchema, service: KeyLimitsSchema, reviewer: KeyLimitsSchema, admin: KeyLimitsSchema })
    .default({ agent: AGENT, service: SERVICE, reviewer: HUMAN, admin: HUMAN }),
  /** Jobs queued (not yet running) in the whole deployment; past it a submission is 503 QUEUE_FULL. */
  queueMaxDepth: z.number().int().min(1).max(10_000_000).default(10_000),
  /** Requests per minute per source address when no key vouches for them (no, a malformed, unknown or revoked key; public routes). */
  anonymousRequestsPerMinute: count(1_000_000).default(300),
  /** Refusals of one subject and limit are summed into one `ratelimit.refused` record per window. */
  refusalWindowMs: z.number().int().min(100).max(3_600_000).default(10_000),
});
export type LimitOptions = z.infer<typeof LimitOptionsSchema>;

export const LIMIT_DEFAULTS: LimitOptions = LimitOptionsSchema.parse({});

export type LimitRole = keyof LimitOptions['roles'];
