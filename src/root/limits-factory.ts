/**
 * Per-key limits and anomalous traffic (issue 15): the limiter, the refusals' summing recorder
 * and the anomaly detector over the keys' baselines, whose alerts are signed by the one webhook
 * signer (review's postSigned, the promotion webhooks'). Both roles build it: the API limits
 * and observes requests and submissions, the worker observes how jobs end.
 */
import type { Redis } from 'ioredis';
import type { AuditStore } from '../audit/index.js';
import { AnomalyDetector, RateLimiter, RefusalRecorder, type Anomaly } from '../monitor/index.js';
import { postSigned } from '../review/index.js';
import { AppError } from '../shared/index.js';
import type { RootContext } from './context.js';

export interface Limits {
  readonly limiter: RateLimiter;
  readonly refusals: RefusalRecorder;
  readonly anomalies: AnomalyDetector;
  /** Writes the open refusal summaries and waits for observations in flight. */
  close(): Promise<void>;
}

/** `alerts: false`: no webhook even when configured (the command line only reads anomalies). */
export function openLimits(ctx: RootContext, redis: Redis, audit: AuditStore, resolveSecret: (name: string) => string | undefined, opts: { alerts?: boolean } = {}): Limits {
  const { config, clock, logger } = ctx;
  const prefix = config.redis.prefix;
  const limiter = new RateLimiter({ redis, prefix, options: config.limits.options, clock });
  const refusals = new RefusalRecorder({
    append: (e) => audit.append(e),
    windowMs: config.limits.options.refusalWindowMs,
    now: () => clock.now(),
    onError: (err) => logger.error({ err }, 'a ratelimit.refused record could not be written'),
  });
  const hook = opts.alerts === false ? undefined : config.limits.anomalyWebhook;
  let alert: ((a: Anomaly) => ReturnType<typeof postSigned>) | undefined;
  if (hook !== undefined) {
    const secret = resolveSecret(hook.secretName);
    if (secret === undefined)
      throw new AppError('CONFIG_INVALID', `AIRLOCK_ANOMALY_WEBHOOK_SECRET names ${hook.secretName}, which no secrets file or AIRLOCK_SECRET_ variable holds`);
    const w = config.review.webhook;
    alert = (anomaly) =>
      postSigned({
        url: hook.url,
        secret,
        body: { type: 'anomaly.detected', anomaly },
        attempts: w.attempts,
        backoffMs: w.backoffMs,
        timeoutMs: w.timeoutMs,
        nowS: () => clock.now() / 1000,
        sleep: (ms) => clock.sleep(ms),
      });
  }
  const anomalies = new AnomalyDetector({
    redis,
    prefix,
    options: config.limits.baselines,
    limiter,
    clock,
    logger,
    append: (e) => audit.append(e),
    ...(alert !== undefined ? { alert } : {}),
  });
  return {
    limiter,
    refusals,
    anomalies,
    close: async () => {
      await anomalies.settle();
      await refusals.flush();
    },
  };
}
