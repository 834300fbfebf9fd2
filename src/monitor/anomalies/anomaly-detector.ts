/**
 * The keys' behavioural baselines and what a deviation does. Every observation (a request, a
 * submission, a refusal, a failed or policy-violating job, a tool call) counts in its key's
 * baseline (baseline-script.ts); a key's observations within COALESCE_MS are one Lua update
 * (its count), so a busy key costs Redis one update per window, not one per request. A deviation
 * over zThreshold σ is an anomaly:
 *   1. kept for GET /v1/anomalies (the latest `keep`),
 *   2. `anomaly.detected` in the audit log (metric, observed, mean, σ, z),
 *   3. the key throttled to its baseline rates for throttleMs (`anomaly.throttled`),
 *   4. a signed webhook alert (the promotion webhooks' signer, passed in by the composition root).
 * Observing never fails its caller: a Redis or audit failure is logged, the request goes on.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keyRoot, newId, parseStoredJson, redisCall, type Clock, type Logger } from '../../shared/index.js';
import { BASELINE_SCRIPT, HOUR_OFFSET } from '../baselines/baseline-script.js';
import type { BaselineMetric, BaselineOptions } from '../baselines/baseline-options.js';
import type { RateLimiter } from '../rate-limits/index.js';

/** Observations of a key's behaviour (fire and forget). */
export interface BehaviourEvents {
  observe(keyId: string, metric: BaselineMetric, n?: number): void;
}

export const AnomalySchema = z.object({
  id: z.string(),
  keyId: z.string(),
  metric: z.string(),
  /** The hour's count against its hour-of-week bucket, or the day's against its day of the week. */
  level: z.enum(['hour', 'day']),
  observed: z.number(),
  mean: z.number(),
  sigma: z.number(),
  z: z.number(),
  detectedAt: z.string(),
  throttle: z.object({ requestsPerMinute: z.number(), submitsPerMinute: z.number(), until: z.string() }),
  alert: z.object({ ok: z.boolean(), status: z.number().nullable(), error: z.string().optional() }).optional(),
});
export type Anomaly = z.infer<typeof AnomalySchema>;

/** An anomaly's audit events (structural AuditEvents: the monitor does not import the audit module). */
export interface AnomalyEvent {
  readonly actor: { readonly type: 'system' };
  readonly action: 'anomaly.detected' | 'anomaly.throttled';
  readonly target: string;
  readonly outcome: { readonly result: string };
  readonly details: Readonly<Record<string, unknown>>;
}

export type AlertResult = { readonly ok: boolean; readonly status: number | null; readonly error?: string };

export interface AnomalyDetectorOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly options: BaselineOptions;
  readonly limiter: RateLimiter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly append: (event: AnomalyEvent) => Promise<unknown>;
  /** Sends the signed alert; absent: no webhook configured. */
  readonly alert?: (anomaly: Anomaly) => Promise<AlertResult>;
}

/**
 * How long a key's observations are summed before one update: detection (hourly and daily
 * counts against their baselines) is late by at most this, which no threshold can tell apart.
 */
export const COALESCE_MS = 50;

export class AnomalyDetector implements BehaviourEvents {
  private readonly root: string;
  private readonly pending = new Set<Promise<unknown>>();
  /** Observations not yet recorded, summed per key and metric. */
  private readonly batch = new Map<string, { keyId: string; metric: BaselineMetric; n: number }>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: AnomalyDetectorOptions) {
    this.root = `${keyRoot(opts.prefix)}:baseline`;
  }

  observe(keyId: string, metric: BaselineMetric, n = 1): void {
    const id = `${keyId}\0${metric}`;
    const summed = this.batch.get(id);
    if (summed !== undefined) summed.n += n;
    else this.batch.set(id, { keyId, metric, n });
    this.flushTimer ??= setTimeout(() => this.flush(), COALESCE_MS).unref();
  }

  /** Records what was observed since the last flush, one update per key and metric. */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const { keyId, metric, n } of this.batch.values()) {
      const p = this.record(keyId, metric, n).catch((err: unknown) => this.opts.logger.warn({ err, keyId, metric, n }, 'behaviour not observed'));
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    }
    this.batch.clear();
  }

  /** One observation, awaited: the anomaly it raised, if any (tests and the efficacy replay). */
  async record(keyId: string, metric: BaselineMetric, n = 1): Promise<Anomaly | undefined> {
    const o = this.opts.options;
    const [fired, level, observed, mean, sigma, z] = await BASELINE_SCRIPT.run(
      this.opts.redis,
      { state: this.stateKey(keyId, metric) },
      {
        nowMs: this.opts.clock.now(),
        n,
        alpha: o.alpha,
        zThreshold: o.zThreshold,
        warmupHours: o.warmupHours,
        minSamples: o.minSamples,
        minExcess: o.minExcess,
        ttlS: 60 * 24 * 3600,
        poolAlpha: o.poolAlpha,
        cv2Prior: o.cv2Prior,
      },
    );
    if (fired !== 1) return undefined;
    return this.raise(keyId, metric, { level: level === 'day' ? 'day' : 'hour', observed: Number(observed), mean: Number(mean), sigma: Number(sigma), z: Number(z) });
  }

  /** Records what is summed now and waits for the observations in flight (shutdown, tests). */
  async settle(): Promise<void> {
    this.flush();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** The latest anomalies, newest first, optionally of one key. */
  async list(opts: { keyId?: string; limit?: number } = {}): Promise<Anomaly[]> {
    const raw = await redisCall('list anomalies', () => this.opts.redis.lrange(this.listKey, 0, this.opts.options.keep - 1));
    const all = raw.map((s) => parseStoredJson(AnomalySchema, s, 'anomaly'));
    return all.filter((a) => opts.keyId === undefined || a.keyId === opts.keyId).slice(0, opts.limit ?? 100);
  }

  private async raise(keyId: string, metric: BaselineMetric, d: Pick<Anomaly, 'level' | 'observed' | 'mean' | 'sigma' | 'z'>): Promise<Anomaly> {
    const nowMs = this.opts.clock.now();
    const id = newId('anom');
    const rates = await this.baselineRates(keyId);
    const untilMs = nowMs + this.opts.options.throttleMs;
    let anomaly: Anomaly = { id, keyId, metric, ...d, detectedAt: new Date(nowMs).toISOString(), throttle: { ...rates, until: new Date(untilMs).toISOString() } };
    const facts = { anomalyId: id, metric, level: d.level, observed: d.observed, mean: round(d.mean), sigma: round(d.sigma), z: round(d.z) };
    await this.opts.append({ actor: { type: 'system' }, action: 'anomaly.detected', target: keyId, outcome: { result: 'detected' }, details: facts });
    await this.opts.limiter.throttle(keyId, { ...rates, untilMs, anomalyId: id });
    await this.opts.append({
      actor: { type: 'system' },
      action: 'anomaly.throttled',
      target: keyId,
      outcome: { result: 'throttled' },
      details: { anomalyId: id, ...rates, until: anomaly.throttle.until },
    });
    if (this.opts.alert !== undefined) {
      const r = await this.opts.alert(anomaly);
      anomaly = { ...anomaly, alert: { ok: r.ok, status: r.status, ...(r.error !== undefined ? { error: r.error } : {}) } };
    }
    await redisCall('keep an anomaly', () =>
      this.opts.redis
        .multi()
        .lpush(this.listKey, JSON.stringify(anomaly))
        .ltrim(this.listKey, 0, this.opts.options.keep - 1)
        .exec(),
    );
    this.opts.logger.warn({ keyId, anomalyId: id, metric, observed: d.observed, mean: d.mean, z: d.z }, 'anomalous traffic: key throttled');
    return anomaly;
  }

  /**
   * The rates a throttled key keeps: its baseline for this hour of the week (mean + zThreshold σ
   * of requests and submissions, per minute), never below one a minute.
   */
  private async baselineRates(keyId: string): Promise<{ requestsPerMinute: number; submitsPerMinute: number }> {
    const bucket = `h${(Math.floor(this.opts.clock.now() / 3_600_000) + HOUR_OFFSET) % 168}`;
    const perMinute = async (metric: BaselineMetric) => {
      const s = await redisCall('read a baseline', () => this.opts.redis.hget(this.stateKey(keyId, metric), bucket));
      const [m = 0, v = 0] = (s ?? '0,0,0').split(',').map(Number);
      const mp = Math.max(m, 0);
      const hourly = m + this.opts.options.zThreshold * Math.max(Math.sqrt(v), Math.sqrt(mp + this.opts.options.cv2Prior * mp * mp), 1);
      return Math.max(1, Math.ceil(hourly / 60));
    };
    return { requestsPerMinute: await perMinute('requests'), submitsPerMinute: await perMinute('submits') };
  }

  private stateKey(keyId: string, metric: BaselineMetric): string {
    return `${this.root}:${keyId}:${metric}`;
  }
  private get listKey(): string {
    return `${keyRoot(this.opts.prefix)}:anomalies`;
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
