/**
 * The behavioural baselines' parameters (chosen on the development traffic shapes of
 * scripts/efficacy-anomaly.ts; the held-out shapes were never used to choose them).
 */
import { z } from 'zod';

export const BASELINE_METRICS = ['requests', 'submits', 'refused', 'failed', 'violations', 'toolCalls'] as const;
export type BaselineMetric = (typeof BASELINE_METRICS)[number];

export const BaselineOptionsSchema = z.strictObject({
  /** EWMA weight of the newest sample of a bucket (each hour-of-week bucket gets one sample a week). */
  alpha: z.number().gt(0).lt(1).default(0.3),
  /** How many standard deviations above the mean is an anomaly. */
  zThreshold: z.number().min(1).max(20).default(3),
  /** A key raises nothing until it has been seen this long (its baselines are still forming). */
  warmupHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 7 * 52)
    .default(24 * 14),
  /** Samples a bucket needs before it is compared against (hour-of-week buckets: weeks). */
  minSamples: z.number().int().min(1).max(100).default(2),
  /** The absolute floor: an excess over the mean smaller than this is never an anomaly (3 requests against a mean of 0.5). */
  minExcess: z.number().int().min(1).max(1_000_000).default(30),
  /** EWMA weight of one sample in a key's pooled noise (c², over all its buckets: 168 samples a week). */
  poolAlpha: z.number().gt(0).lt(1).default(0.02),
  /** c² before a key has samples (a day-to-day swing of about ±20%). */
  cv2Prior: z.number().min(0).max(4).default(0.04),
  /** How long a key is throttled to its baseline after an anomaly. */
  throttleMs: z
    .number()
    .int()
    .min(60_000)
    .max(7 * 24 * 3_600_000)
    .default(3_600_000),
  /** Anomalies kept for GET /v1/anomalies (the audit log keeps every one). */
  keep: z.number().int().min(10).max(100_000).default(1000),
});
export type BaselineOptions = z.infer<typeof BaselineOptionsSchema>;
export const BASELINE_DEFAULTS: BaselineOptions = BaselineOptionsSchema.parse({});
