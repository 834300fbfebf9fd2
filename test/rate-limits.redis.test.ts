/**
 * Per-key limits and backpressure over the live HTTP API (API role: no worker, so jobs stay
 * queued until cancelled). The clock is a fake one: Retry-After and the windows are exact.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit, RedisAuditStore } from '../src/audit/index.js';
import { openAirlock } from '../src/root/index.js';
import { KeyLimitOverridesSchema, LIMIT_DEFAULTS, LimitOptionsSchema } from '../src/monitor/index.js';
import { createLogger } from '../src/shared/index.js';
import { startTestAirlock, testConfig, type TestAirlock } from './helpers/airlock.js';
import { FakeClock } from './helpers/fake-clock.js';
import { testRedis } from './helpers/redis.js';

const JOB = { runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] };

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function call(baseUrl: string, method: string, path: string, key: string | undefined, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers['authorization'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) };
}

let redis: Redis;
let t: TestAirlock | undefined;
const clock = new FakeClock(Date.UTC(2026, 0, 5, 10, 0, 0));

beforeAll(() => {
  redis = testRedis();
});
afterEach(async () => {
  await t?.stop();
  t = undefined;
});
afterAll(() => redis.disconnect());

const auditOf = (prefix: string) => new RedisAuditStore({ redis, prefix, clock });

describe('per-key request rate', () => {
  it('a burst over the rate gets 429 with both header styles and an exact Retry-After; another key is unaffected; the limit holds across two API processes', async () => {
    t = await startTestAirlock('limits-rate', { AIRLOCK_ROLE: 'api' }, { clock });
    const admin = await t.key('admin');
    const agent = await t.key('agent');
    const other = await t.key('agent');
    // 6 a minute: one every 10 s, a burst of 6
    expect((await call(t.baseUrl, 'PATCH', `/v1/keys/${agent.id}`, admin.key, { limits: { requestsPerMinute: 6 } })).status).toBe(200);
    // a second API process on the same Redis and prefix
    const second = await openAirlock(t.config, { clock, logger: createLogger({ level: 'silent' }) });
    try {
      const url2 = (second.url ?? '').replace('0.0.0.0', '127.0.0.1');
      const answers: Answer[] = [];
      for (let i = 0; i < 6; i++) answers.push(await call(i % 2 === 0 ? t.baseUrl : url2, 'GET', '/v1/profiles', agent.key));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(answers.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual(['5', '4', '3', '2', '1', '0']);
      expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"requestsPerMinute";q=6;w=60');

      const refused = await call(url2, 'GET', '/v1/profiles', agent.key);
      expect(refused.status).toBe(429);
      expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED', limit: 'requestsPerMinute', retryAfterS: 10 });
      expect(refused.headers.get('retry-after')).toBe('10');
      expect(refused.headers.get('x-ratelimit-limit')).toBe('6');
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(refused.headers.get('x-ratelimit-reset')).toBe('60');
      expect(refused.headers.get('ratelimit')).toBe('"requestsPerMinute";r=0;t=60');
      expect((await call(t.baseUrl, 'GET', '/v1/profiles', agent.key)).status).toBe(429);

      // another key is unaffected
      expect((await call(t.baseUrl, 'GET', '/v1/profiles', other.key)).status).toBe(200);
      // Retry-After was right: 9.999 s later still refused, 10 s later one passes
      clock.advance(9_999);
      expect((await call(t.baseUrl, 'GET', '/v1/profiles', agent.key)).status).toBe(429);
      clock.advance(1);
      expect((await call(url2, 'GET', '/v1/profiles', agent.key)).status).toBe(200);
      expect((await call(t.baseUrl, 'GET', '/v1/profiles', agent.key)).status).toBe(429);
    } finally {
      await second.close();
    }
  });

  it('traffic no key vouches for is limited per source address', async () => {
    t = await startTestAirlock('limits-anon', { AIRLOCK_ROLE: 'api', AIRLOCK_LIMITS_ANONYMOUS_PER_MINUTE: '3' }, { clock });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(t.baseUrl, 'GET', '/v1/profiles', 'ak_0000000000000000_' + 'x'.repeat(43))).status);
    expect(statuses).toEqual([401, 401, 401]);
    const refused = await call(t.baseUrl, 'GET', '/v1/profiles', undefined);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED', limit: 'anonymousRequestsPerMinute', retryAfterS: 20 });
    // public routes count against the address too; probes never do
    expect((await call(t.baseUrl, 'GET', '/.well-known/jwks.json', undefined)).status).toBe(429);
    expect((await call(t.baseUrl, 'GET', '/healthz', undefined)).status).toBe(200);
    // a valid key is not the address's traffic
    const agent = await t.key('agent');
    expect((await call(t.baseUrl, 'GET', '/v1/profiles', agent.key)).status).toBe(200);
  });
});

describe('jobs: in flight, queue cap', () => {
  it('max in-flight refuses the N+1th job until one finishes', async () => {
    t = await startTestAirlock('limits-inflight', { AIRLOCK_ROLE: 'api' }, { clock });
    const admin = await t.key('admin');
    const agent = await t.key('agent');
    expect((await call(t.baseUrl, 'PATCH', `/v1/keys/${agent.id}`, admin.key, { limits: { maxInflight: 3 } })).body.limits.maxInflight).toBe(3);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(t.baseUrl, 'POST', '/v1/jobs', agent.key, JOB);
      expect(r.status).toBe(202);
      ids.push(r.body.id);
    }
    const refused = await call(t.baseUrl, 'POST', '/v1/jobs', agent.key, JOB);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED', limit: 'maxInflight' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // nothing of the refused job was stored: the key still has exactly its 3 jobs
    expect(await redis.scard(`{${t.prefix}}:key-jobs:${agent.id}`)).toBe(3);
    // one ends (cancelled while queued): the next is admitted, and the one after is refused again
    expect((await call(t.baseUrl, 'DELETE', `/v1/jobs/${ids[0]!}`, agent.key)).status).toBe(200);
    expect((await call(t.baseUrl, 'POST', '/v1/jobs', agent.key, JOB)).status).toBe(202);
    expect((await call(t.baseUrl, 'POST', '/v1/jobs', agent.key, JOB)).status).toBe(429);
  });

  it('the queue cap refuses with 503 QUEUE_FULL and Retry-After, whoever submits', async () => {
    t = await startTestAirlock('limits-queue', { AIRLOCK_ROLE: 'api', AIRLOCK_LIMITS_QUEUE_MAX_DEPTH: '4' }, { clock });
    const a = await t.key('agent');
    const b = await t.key('agent');
    for (let i = 0; i < 2; i++) expect((await call(t.baseUrl, 'POST', '/v1/jobs', a.key, JOB)).status).toBe(202);
    for (let i = 0; i < 2; i++) expect((await call(t.baseUrl, 'POST', '/v1/jobs', b.key, JOB)).status).toBe(202);
    const full = await call(t.baseUrl, 'POST', '/v1/jobs', b.key, JOB);
    expect(full.status).toBe(503);
    expect(full.body.error).toMatchObject({ code: 'QUEUE_FULL', limit: 'queueMaxDepth' });
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('refusals are audited, summed', () => {
  it('a flood of refused requests leaves one record at once and one summary per window, naming the limit', async () => {
    t = await startTestAirlock('limits-audit', { AIRLOCK_ROLE: 'api', AIRLOCK_LIMITS_REFUSAL_WINDOW_MS: '3000' }, { clock });
    const admin = await t.key('admin');
    const agent = await t.key('agent');
    await call(t.baseUrl, 'PATCH', `/v1/keys/${agent.id}`, admin.key, { limits: { requestsPerMinute: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 52; i++) statuses.push((await call(t.baseUrl, 'GET', '/v1/profiles', agent.key)).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(50);
    const audit = auditOf(t.prefix);
    // the window closes (real time: the recorder's timer), then its summary is written
    const refusedCount = (rs: typeof records) => rs.reduce((n, r) => n + Number(r.details?.['count'] ?? 0), 0);
    let records: Awaited<ReturnType<typeof queryAudit>>['records'] = [];
    for (let i = 0; i < 150 && refusedCount(records) < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      records = (await queryAudit(audit, { action: 'ratelimit.refused', order: 'asc' })).records;
    }
    // all 50 counted; the first of a window at once (count 1), the rest as its summary: a few records, not 50
    expect(refusedCount(records)).toBe(50);
    expect(records.length).toBeLessThanOrEqual(4);
    expect(records[0]!.details).toMatchObject({ limit: 'requestsPerMinute', count: 1 });
    expect(records[1]!.details).toMatchObject({ limit: 'requestsPerMinute', summary: true });
    expect(records.every((r) => r.target === agent.id && r.actor.type === 'key' && r.outcome?.error === 'RATE_LIMITED')).toBe(true);
    // and not one record per refused request: the HTTP hook recorded only the 2 served reads (and the PATCH's key.update)
    const reads = (await queryAudit(audit, { actor: { type: 'key', keyId: agent.id }, limit: 500 })).records.filter((r) => r.action !== 'ratelimit.refused');
    expect(reads).toHaveLength(2);
  });
});

describe('configuration', () => {
  it('the limits come from their variables and the schema defaults', () => {
    const c = testConfig('limits-config', { AIRLOCK_LIMITS_QUEUE_MAX_DEPTH: '7' });
    expect(c.limits.options.queueMaxDepth).toBe(7);
    expect(c.limits.options.roles.agent.maxInflight).toBe(50);
    // the defaults are inside their own ranges (a default is not checked by zod), and a day's input of GiBs is a valid override
    expect(LimitOptionsSchema.parse(JSON.parse(JSON.stringify(LIMIT_DEFAULTS)))).toEqual(LIMIT_DEFAULTS);
    expect(KeyLimitOverridesSchema.parse({ inputBytesPerDay: 8 * 1024 ** 3 })).toEqual({ inputBytesPerDay: 8 * 1024 ** 3 });
    expect(() => testConfig('limits-config', { AIRLOCK_LIMITS_QUEUE_MAX_DEPTH: '0' })).toThrow(/AIRLOCK_LIMITS_QUEUE_MAX_DEPTH/);
    expect(() => testConfig('limits-config', { AIRLOCK_ANOMALY_WEBHOOK_URL: 'http://127.0.0.1:1/x' })).toThrow(/AIRLOCK_ANOMALY_WEBHOOK_SECRET/);
  });
});

describe('the benchmark build without the audit hook (Config.http.unauditedForBenchmark)', () => {
  it('still refuses a key over its rate with 429, not a crash (scripts/bench-audit.ts got 500 INTERNAL)', async () => {
    t = await startTestAirlock('limits-unaudited', { AIRLOCK_ROLE: 'api' }, { clock });
    const admin = await t.key('admin');
    const agent = await t.key('agent');
    expect((await call(t.baseUrl, 'PATCH', `/v1/keys/${agent.id}`, admin.key, { limits: { requestsPerMinute: 1 } })).status).toBe(200);
    const unaudited = await openAirlock({ ...t.config, http: { ...t.config.http, unauditedForBenchmark: true } }, { clock, logger: createLogger({ level: 'silent' }) });
    try {
      const url = (unaudited.url ?? '').replace('0.0.0.0', '127.0.0.1');
      expect((await call(url, 'GET', '/v1/profiles', agent.key)).status).toBe(200);
      const refused = await call(url, 'GET', '/v1/profiles', agent.key);
      expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
    } finally {
      await unaudited.close();
    }
  });
});
