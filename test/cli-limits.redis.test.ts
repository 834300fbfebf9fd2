/**
 * `airlock keys create/update --rate --max-inflight`, `keys limits`, `keys unthrottle` and
 * `airlock anomalies` against the real Redis, under a unique prefix (the CLI's own variables).
 */
import type { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit, RedisAuditStore } from '../src/audit/index.js';
import { run } from '../src/cli/index.js';
import { AnomalyDetector, BaselineOptionsSchema, LIMIT_DEFAULTS, RateLimiter } from '../src/monitor/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';

const prefix = uniquePrefix('cli-limits');
let redis: Redis;
let dir: string;
let env: Record<string, string>;

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (s) => out.push(...s.split('\n')), err: (s) => err.push(...s.split('\n')), env });
  return { code, out, err };
}

beforeAll(async () => {
  redis = testRedis();
  dir = await mkdtemp(join(tmpdir(), 'cli-limits-'));
  env = {
    AIRLOCK_REDIS_PREFIX: prefix,
    AIRLOCK_REDIS_URL: TEST_REDIS_URL,
    AIRLOCK_AUDIT_SIGNING_KEY_FILE: join(dir, 'signing-key.pem'),
    AIRLOCK_AUDIT_CHECKPOINT_FILE: join(dir, 'checkpoints.jsonl'),
    AIRLOCK_AUDIT_SEGMENTS_DIR: join(dir, 'segments'),
  };
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

describe('airlock keys limits (CLI)', () => {
  it('create with --rate and --max-inflight, update, show, unthrottle: each mutation recorded', async () => {
    const created = await cli('keys', 'create', '--role', 'agent', '--rate', '30', '--max-inflight', '4');
    expect(created.code, created.err.join('\n')).toBe(0);
    const id = /^created (key_[0-9a-f]{16})/.exec(created.out[0] ?? '')![1]!;
    const shown = await cli('keys', 'limits', id);
    expect(shown.out.find((l) => l.startsWith('requestsPerMinute'))).toMatch(/30\s+own/);
    expect(shown.out.find((l) => l.startsWith('maxInflight'))).toMatch(/4\s+own/);
    expect(shown.out.find((l) => l.startsWith('submitsPerMinute'))).toMatch(new RegExp(`${LIMIT_DEFAULTS.roles.agent.submitsPerMinute}\\s+role default`));

    expect((await cli('keys', 'update', id, '--max-inflight', '9')).out.find((l) => l.startsWith('maxInflight'))).toMatch(/9\s+own/);
    const bad = await cli('keys', 'update', id, '--rate', '-3');
    expect(bad.code).toBe(1);
    expect(bad.err.join('\n')).toContain('--rate must be a positive whole number');

    expect((await cli('keys', 'unthrottle', id)).out).toEqual([`${id} was not throttled`]);
    const limiter = new RateLimiter({ redis, prefix, options: LIMIT_DEFAULTS, clock: systemClock });
    await limiter.throttle(id, { requestsPerMinute: 2, submitsPerMinute: 1, untilMs: Date.now() + 3_600_000, anomalyId: 'anom_test' });
    expect((await cli('keys', 'limits', id)).out.at(-1)).toMatch(/^throttled until .* \(anomaly anom_test\): 2 requests\/min, 1 submissions\/min$/);
    expect((await cli('keys', 'unthrottle', id)).out[0]).toContain('lifted the throttle');
    expect(await limiter.throttleOf(id)).toBeUndefined();

    const audit = new RedisAuditStore({ redis, prefix, clock: systemClock });
    const actions = (await queryAudit(audit, { target: id, order: 'asc' })).records.map((r) => [r.action, r.actor]);
    expect(actions).toEqual([
      ['key.create', { type: 'system', via: 'cli' }],
      ['key.update', { type: 'system', via: 'cli' }],
      ['key.unthrottle', { type: 'system', via: 'cli' }],
      ['key.unthrottle', { type: 'system', via: 'cli' }],
    ]);
  });

  it('anomalies lists what the detector raised, newest first', async () => {
    expect((await cli('anomalies')).out).toHaveLength(1); // the header only
    const clock = { ms: Date.UTC(2026, 0, 5), now: () => clock.ms, sleep: () => Promise.resolve() };
    const audit = new RedisAuditStore({ redis, prefix, clock });
    const limiter = new RateLimiter({ redis, prefix, options: LIMIT_DEFAULTS, clock });
    const options = BaselineOptionsSchema.parse({ warmupHours: 2, minSamples: 1 });
    const detector = new AnomalyDetector({ redis, prefix, options, limiter, clock, logger: createLogger({ level: 'silent' }), append: (e) => audit.append(e) });
    // a week of 10 an hour, then 200 in one hour
    for (let h = 0; h < 168; h++, clock.ms += 3_600_000) expect(await detector.record('key_00000000000000aa', 'submits', 10)).toBeUndefined();
    const a = await detector.record('key_00000000000000aa', 'submits', 200);
    expect(a).toMatchObject({ metric: 'submits', observed: 200, level: 'hour' });
    const listed = await cli('anomalies', '--key', 'key_00000000000000aa');
    expect(listed.out).toHaveLength(2);
    expect(listed.out[1]).toContain('key_00000000000000aa');
    expect(listed.out[1]).toContain('submits');
    const json = JSON.parse((await cli('anomalies', '--json')).out.join('\n'));
    expect(json).toEqual([expect.objectContaining({ id: a!.id, z: a!.z })]);
  });
});
