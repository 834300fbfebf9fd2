/**
 * Per-key limits and backpressure, held in Redis so they hold across API processes: requests
 * per minute (per key, or per source address for traffic no key vouches for), and the admission
 * of a job (queue cap, the key's queued + running jobs, submissions per minute, input bytes per
 * day, its fairness priority). A key's overrides and its throttle (set by the anomaly detector,
 * lifted by an admin) are read inside the same script as the check: one round trip per check.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { AppError, keyRoot, parseStored, redisCall, type Clock } from '../../shared/index.js';
import { KeyLimitOverridesSchema, type KeyLimitOverrides, type KeyLimits, type LimitOptions, type LimitRole } from './limit-options.js';
import { ADMIT_JOB_SCRIPT, REQUEST_LIMIT_SCRIPT } from './limit-scripts.js';

/** The names of the limits, as refusals and `ratelimit.refused` records state them. */
export type LimitName = 'requestsPerMinute' | 'anonymousRequestsPerMinute' | 'submitsPerMinute' | 'maxInflight' | 'inputBytesPerDay' | 'queueMaxDepth';

/** One check's answer: what the headers say, allowed or not. */
export interface RateDecision {
  readonly allowed: boolean;
  readonly limitName: LimitName;
  readonly limit: number;
  readonly remaining: number;
  /** Until the window is whole again. */
  readonly resetMs: number;
  /** Until a retry can pass (0 when allowed). */
  readonly retryAfterMs: number;
  /** The window the limit counts over. */
  readonly windowMs: number;
  /** The key's throttle lowered the limit. */
  readonly throttled: boolean;
}

/** A request refused by a limit: 429 RATE_LIMITED, or 503 QUEUE_FULL for the deployment's queue cap. */
export class LimitRefusal extends AppError {
  constructor(readonly decision: RateDecision) {
    const retryAfterS = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    const full = decision.limitName === 'queueMaxDepth';
    super(full ? 'QUEUE_FULL' : 'RATE_LIMITED', refusalMessage(decision, retryAfterS), {
      retryable: true,
      details: { limit: decision.limitName, retryAfterS, ...(decision.throttled ? { throttled: true } : {}) },
    });
  }
}

function refusalMessage(d: RateDecision, retryAfterS: number): string {
  if (d.limitName === 'queueMaxDepth') return `the queue is full (${d.limit} jobs waiting); retry in ${retryAfterS} s`;
  if (d.limitName === 'maxInflight') return `this key has ${d.limit} jobs queued or running, its maximum; retry when one finishes`;
  if (d.limitName === 'inputBytesPerDay' && d.retryAfterMs < 0) return `this job's input is larger than the key's daily input allowance (${d.limit} bytes)`;
  const throttled = d.throttled ? ' (lowered: the key is throttled after an anomaly)' : '';
  return `rate limit ${d.limitName}=${d.limit}${throttled} exceeded; retry in ${retryAfterS} s`;
}

/** What an admitted job gets: its BullMQ priority (1 = the key has no backlog). */
export interface Admission {
  readonly priority: number;
  readonly decision: RateDecision;
}

/** Keys a job admission reads that other modules own: the key's open-jobs set (job store) and BullMQ's waiting jobs. */
export interface AdmissionKeys {
  readonly openJobs: string;
  readonly wait: string;
  readonly prioritized: string;
}

export interface Throttle {
  readonly requestsPerMinute: number;
  readonly submitsPerMinute: number;
  readonly untilMs: number;
  /** The anomaly that set it. */
  readonly anomalyId: string;
}

const ThrottleSchema = z.object({
  requestsPerMinute: z.coerce.number().int().min(1),
  submitsPerMinute: z.coerce.number().int().min(1),
  untilMs: z.coerce.number().int(),
  anomalyId: z.string(),
});

const MINUTE_MS = 60_000;
/** Retry-After for a full queue or a key at its in-flight maximum: nothing says when a slot frees. */
const FULL_RETRY_MS = 5_000;

export interface RateLimiterOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly options: LimitOptions;
  readonly clock: Clock;
}

export class RateLimiter {
  private readonly root: string;

  constructor(private readonly opts: RateLimiterOptions) {
    this.root = `${keyRoot(opts.prefix)}:limits`;
  }

  /** The limits a role has before a key's overrides. */
  defaultsOf(role: LimitRole): KeyLimits {
    return this.opts.options.roles[role];
  }

  /** One authenticated request of a key. */
  async keyRequest(keyId: string, role: LimitRole): Promise<RateDecision> {
    const [allowed, limit, remaining, resetMs, retryAfterMs, throttled] = await REQUEST_LIMIT_SCRIPT.run(
      this.opts.redis,
      { bucket: `${this.root}:req:${keyId}`, overrides: this.overridesKey(keyId), throttle: this.throttleKey(keyId) },
      { nowMs: this.opts.clock.now(), defaultLimit: this.defaultsOf(role).requestsPerMinute, periodMs: MINUTE_MS },
    );
    return { allowed: allowed === 1, limitName: 'requestsPerMinute', limit, remaining, resetMs, retryAfterMs, windowMs: MINUTE_MS, throttled: throttled === 1 };
  }

  /** One request no key vouches for, by source address. */
  async anonymousRequest(address: string): Promise<RateDecision> {
    const none = `${this.root}:none`;
    const [allowed, limit, remaining, resetMs, retryAfterMs] = await REQUEST_LIMIT_SCRIPT.run(
      this.opts.redis,
      { bucket: `${this.root}:addr:${address}`, overrides: none, throttle: none },
      { nowMs: this.opts.clock.now(), defaultLimit: this.opts.options.anonymousRequestsPerMinute, periodMs: MINUTE_MS },
    );
    return { allowed: allowed === 1, limitName: 'anonymousRequestsPerMinute', limit, remaining, resetMs, retryAfterMs, windowMs: MINUTE_MS, throttled: false };
  }

  /** Admits a job or throws LimitRefusal naming the limit. An admitted job is in its key's open set already. */
  async admitJob(keyId: string, role: LimitRole, jobId: string, inputBytes: number, keys: AdmissionKeys): Promise<Admission> {
    const d = this.defaultsOf(role);
    const [allowed, name, limit, remaining, resetMs, retryAfterMs, throttled, priority] = await ADMIT_JOB_SCRIPT.run(
      this.opts.redis,
      {
        submits: `${this.root}:sub:${keyId}`,
        bytes: `${this.root}:bytes:${keyId}`,
        overrides: this.overridesKey(keyId),
        throttle: this.throttleKey(keyId),
        openJobs: keys.openJobs,
        state: `${this.root}:fair:${keyId}`,
        wait: keys.wait,
        prioritized: keys.prioritized,
      },
      {
        nowMs: this.opts.clock.now(),
        jobId,
        inputBytes,
        submitsPerMinute: d.submitsPerMinute,
        maxInflight: d.maxInflight,
        inputBytesPerDay: d.inputBytesPerDay,
        queueMaxDepth: this.opts.options.queueMaxDepth,
        retryAfterFullMs: FULL_RETRY_MS,
      },
    );
    const limitName = (allowed === 1 ? 'submitsPerMinute' : name) as LimitName;
    const windowMs = limitName === 'inputBytesPerDay' ? 86_400_000 : MINUTE_MS;
    const decision: RateDecision = { allowed: allowed === 1, limitName, limit, remaining, resetMs, retryAfterMs, windowMs, throttled: throttled === 1 };
    if (!decision.allowed) throw new LimitRefusal(decision);
    return { priority, decision };
  }

  async overrides(keyId: string): Promise<KeyLimitOverrides> {
    const h = await redisCall(`read the limits of key ${keyId}`, () => this.opts.redis.hgetall(this.overridesKey(keyId)));
    return parseStored(KeyLimitOverridesSchema, Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)])), `limits of key ${keyId}`);
  }

  /** Sets some of a key's limits (the rest keep their role's defaults). */
  async setOverrides(keyId: string, limits: KeyLimitOverrides): Promise<KeyLimitOverrides> {
    const checked = KeyLimitOverridesSchema.safeParse(limits);
    if (!checked.success)
      throw new AppError('INVALID_REQUEST', `limits: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { details: { field: 'limits' } });
    const fields = Object.entries(checked.data).filter(([, v]) => v !== undefined);
    if (fields.length > 0) await redisCall(`set the limits of key ${keyId}`, () => this.opts.redis.hset(this.overridesKey(keyId), Object.fromEntries(fields)));
    return this.overrides(keyId);
  }

  /** Lowers a key's rates until `untilMs` (the anomaly detector's automatic throttle). */
  async throttle(keyId: string, t: Throttle): Promise<void> {
    const ttlMs = Math.max(1000, t.untilMs - this.opts.clock.now());
    await redisCall(`throttle key ${keyId}`, () =>
      this.opts.redis
        .multi()
        .hset(this.throttleKey(keyId), { requestsPerMinute: t.requestsPerMinute, submitsPerMinute: t.submitsPerMinute, untilMs: t.untilMs, anomalyId: t.anomalyId })
        .pexpire(this.throttleKey(keyId), ttlMs)
        .exec(),
    );
  }

  /** The key's live throttle, if any. */
  async throttleOf(keyId: string): Promise<Throttle | undefined> {
    const h = await redisCall(`read the throttle of key ${keyId}`, () => this.opts.redis.hgetall(this.throttleKey(keyId)));
    if (Object.keys(h).length === 0) return undefined;
    const t = parseStored(ThrottleSchema, h, `throttle of key ${keyId}`);
    return t.untilMs > this.opts.clock.now() ? t : undefined;
  }

  /** Lifts a key's throttle; returns the one lifted (undefined: there was none). */
  async unthrottle(keyId: string): Promise<Throttle | undefined> {
    const live = await this.throttleOf(keyId);
    await redisCall(`lift the throttle of key ${keyId}`, () => this.opts.redis.del(this.throttleKey(keyId)));
    return live;
  }

  private overridesKey(keyId: string): string {
    return `${this.root}:key:${keyId}`;
  }
  private throttleKey(keyId: string): string {
    return `${this.root}:throttle:${keyId}`;
  }
}
