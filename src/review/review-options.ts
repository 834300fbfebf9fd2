/**
 * Review's settings, with their ranges and defaults in this one place. config.ts maps
 * AIRLOCK_REVIEW_* and AIRLOCK_WEBHOOK_* onto these schemas; a webhook target may set its own
 * delivery (the same ranges), and what it leaves unset takes the defaults here.
 */
import { z } from 'zod';

export const ReviewOptionsSchema = z.strictObject({
  /** How often the API role expires, escalates and resumes promotions. */
  sweepMs: z.number().int().min(100).max(3_600_000).default(5000),
  /** How long one apply may hold a promotion before another may resume it. */
  applyLeaseMs: z.number().int().min(1000).default(600_000),
});
export type ReviewOptions = z.infer<typeof ReviewOptionsSchema>;

const attempts = z.number().int().min(1).max(10);
const backoffMs = z.number().int().min(0).max(60_000);
const timeoutMs = z.number().int().min(100).max(60_000);

/** A signed POST's delivery: tries, first backoff (doubling) and per-try timeout. */
export const WebhookOptionsSchema = z.strictObject({
  attempts: attempts.default(5),
  backoffMs: backoffMs.default(500),
  timeoutMs: timeoutMs.default(10_000),
});
export type WebhookOptions = z.infer<typeof WebhookOptionsSchema>;

/** A webhook target's own delivery settings (in the approval policy): the same ranges, unset ones at the defaults. */
export const WebhookOverridesShape = { attempts: attempts.optional(), backoffMs: backoffMs.optional(), timeoutMs: timeoutMs.optional() };

/** Delivery settings with the defaults filled in. */
export function webhookOptions(overrides: { readonly [K in keyof WebhookOptions]?: number | undefined } = {}): WebhookOptions {
  return WebhookOptionsSchema.parse(overrides);
}
