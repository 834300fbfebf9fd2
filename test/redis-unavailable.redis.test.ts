/**
 * One answer for a Redis that cannot serve: 503 REDIS_UNAVAILABLE on every route (issue 11:
 * a full Redis gave 503 on a job submission but 500 INTERNAL on a key creation or revocation,
 * whose store did not translate the driver's error). The service's Redis is a redis-server of
 * this suite's own whose memory cap is then set below its use: reads still work
 * (authentication passes), every write is refused with OOM. The audit log lives on the shared
 * test Redis, so it is not what fails.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { startPrivateRedis, TEST_REDIS_URL, type PrivateRedis } from './helpers/redis.js';

describe('Redis out of memory', () => {
  let server: PrivateRedis;
  let filler: Redis;
  let t: TestAirlock;
  let admin: CreatedApiKey;
  let agent: CreatedApiKey;
  let victim: CreatedApiKey;

  beforeAll(async () => {
    server = await startPrivateRedis(['--maxmemory-policy', 'noeviction']);
    filler = new Redis(server.url, { maxRetriesPerRequest: 1 });
    t = await startTestAirlock('redis-oom', { AIRLOCK_ROLE: 'api', AIRLOCK_REDIS_URL: server.url, AIRLOCK_AUDIT_REDIS_URL: TEST_REDIS_URL });
    admin = await t.key('admin');
    agent = await t.key('agent');
    victim = await t.key('agent');
    // below what is already used: every write is refused from now on, reads are served
    await filler.config('SET', 'maxmemory', '1');
  });
  afterAll(async () => {
    await t?.stop();
    filler?.disconnect();
    await server?.stop();
  });

  it.each([
    ['POST /v1/keys', 'POST', '/v1/keys', () => admin.key, { role: 'agent', name: 'late' }],
    ['DELETE /v1/keys/:id', 'DELETE', () => `/v1/keys/${victim.id}`, () => admin.key, undefined],
    ['POST /v1/jobs', 'POST', '/v1/jobs', () => agent.key, { runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] }],
  ] as const)('%s answers 503 REDIS_UNAVAILABLE', async (_name, method, path, key, body) => {
    const res = await t.request(method, typeof path === 'string' ? path : path(), key(), body);
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.body.error.code).toBe('REDIS_UNAVAILABLE');
    expect(res.body.error.message).toMatch(/OOM command not allowed/);
  });

  it('reads still work at the cap', async () => {
    const res = await t.request('GET', '/v1/keys', admin.key);
    expect(res.status).toBe(200);
    expect(res.body.keys.map((k: { id: string }) => k.id)).toEqual(expect.arrayContaining([admin.id, agent.id]));
  });
});
