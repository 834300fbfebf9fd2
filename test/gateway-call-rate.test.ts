/** The per-job token bucket of the gateway's call rate (issue 10, audit flood). */
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../src/gateway/call-rate.js';

describe('the per-job token bucket', () => {
  it('allows the burst, then the rate, and says how long to wait', () => {
    let now = 0;
    const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(100);
    now += 100;
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(100);
    now += 10_000;
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0, 100]);
  });
});
