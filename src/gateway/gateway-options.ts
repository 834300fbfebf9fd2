/**
 * The gateway's settings, with their ranges and defaults in this one place. config.ts maps
 * AIRLOCK_GATEWAY_CALLS_PER_S / AIRLOCK_GATEWAY_CALL_BURST onto `CallRateSchema`; a gateway
 * built without config (tests) takes the same defaults (DEFAULT_CALL_RATE).
 */
import { z } from 'zod';

/** A token bucket per job: sustained tool calls per second, and how many may arrive at once after a quiet spell. */
export const CallRateSchema = z.strictObject({
  perSecond: z.number().int().min(1).max(10_000).default(20),
  burst: z.number().int().min(1).max(100_000).default(40),
});
export type CallRate = Readonly<z.infer<typeof CallRateSchema>>;

export const DEFAULT_CALL_RATE: CallRate = Object.freeze(CallRateSchema.parse({}));
