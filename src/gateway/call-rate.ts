/**
 * A token bucket per job: how many tool calls the gateway takes in, counted before anything
 * else is done for a call (even a credential check costs a Redis read). Over the rate the job
 * gets 429 rate_limited with Retry-After.
 */
import type { CallRate } from './gateway-options.js';

export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly rate: CallRate,
    private readonly now: () => number,
  ) {
    this.tokens = rate.burst;
    this.lastMs = now();
  }

  /** Takes one call's token: 0 when taken, otherwise the ms until one is available. */
  take(): number {
    const nowMs = this.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + (Math.max(0, nowMs - this.lastMs) * this.rate.perSecond) / 1000);
    this.lastMs = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate.perSecond);
  }
}
