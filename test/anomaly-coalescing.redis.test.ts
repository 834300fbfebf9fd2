/**
 * A busy key's observations cost Redis one baseline update per key and metric per window, not one
 * per request (the limiter's cost, issue 15): counted with INFO commandstats on a redis-server of
 * this suite's own, and every observation still counts in the baseline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnomalyDetector, BASELINE_DEFAULTS, LIMIT_DEFAULTS, RateLimiter } from '../src/monitor/index.js';
import { createLogger, keyRoot } from '../src/shared/index.js';
import { FakeClock } from './helpers/fake-clock.js';
import { callDelta, commandCalls, startPrivateRedis, type PrivateRedis } from './helpers/redis.js';

const PREFIX = 'coalesce';
let server: PrivateRedis;
let detector: AnomalyDetector;
const clock = new FakeClock(Date.UTC(2026, 10, 30, 10, 5));
const count = (keyId: string, metric: string) => server.client.hget(`${keyRoot(PREFIX)}:baseline:${keyId}:${metric}`, 'count');

beforeAll(async () => {
  server = await startPrivateRedis();
  const limiter = new RateLimiter({ redis: server.client, prefix: PREFIX, options: LIMIT_DEFAULTS, clock });
  detector = new AnomalyDetector({
    redis: server.client,
    prefix: PREFIX,
    options: BASELINE_DEFAULTS,
    limiter,
    clock,
    logger: createLogger({ level: 'silent' }),
    append: () => Promise.resolve(),
  });
});
afterAll(async () => {
  await server?.stop();
});

describe('behaviour observations', () => {
  it("a burst of one key's observations is one update per metric, and every observation counts", async () => {
    // the script is known to Redis from here on (its first run may be EVAL)
    detector.observe('key_warm', 'requests');
    await detector.settle();
    const before = await commandCalls(server.client);

    for (let i = 0; i < 100; i++) detector.observe('key_a', 'requests');
    for (let i = 0; i < 30; i++) detector.observe('key_b', 'requests');
    detector.observe('key_a', 'submits', 3);
    detector.observe('key_a', 'submits', 2);
    await detector.settle();

    expect(callDelta(before, await commandCalls(server.client))).toMatchObject({ evalsha: 3 });
    expect(await count('key_a', 'requests')).toBe('100');
    expect(await count('key_b', 'requests')).toBe('30');
    expect(await count('key_a', 'submits')).toBe('5');
  });

  it('what was observed is recorded without anyone asking (the window closes by itself)', async () => {
    detector.observe('key_c', 'refused', 4);
    for (let i = 0; i < 100 && (await count('key_c', 'refused')) === null; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await count('key_c', 'refused')).toBe('4');
  });
});
