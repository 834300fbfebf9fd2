/**
 * Fail closed: a service whose audit log lives on a private Redis (AIRLOCK_AUDIT_REDIS_URL),
 * which the test then breaks or stops. Jobs and keys stay on the shared test Redis, so we can
 * see that nothing was queued. The shared Redis is never touched beyond the test's prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './helpers/free-port.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { testRedis } from './helpers/redis.js';

const JOB = { runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] };

/** A throwaway redis-server on 127.0.0.1 (no persistence), stopped by `kill()`. */
async function privateRedis(): Promise<{ url: string; client: Redis; kill(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => undefined);
  for (let i = 0; ; i += 1) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (err) {
      if (i > 50) throw new Error(`private redis-server did not start on ${port}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    client,
    async kill() {
      client.disconnect();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Our job records, BullMQ's keys and the wait list under the prefix: what a queued job would change. */
async function queueState(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const pattern of [`{${prefix}}:job:*`, `{${prefix}}:jobs:*`]) {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
  }
  return [...keys.sort(), `wait=${await redis.llen(`{${prefix}}:jobs:wait`)}`];
}

const expect503 = (res: { status: number; body: any }) => {
  expect(res.status, JSON.stringify(res.body)).toBe(503);
  expect(res.body).toEqual({ error: { code: 'AUDIT_UNAVAILABLE', message: expect.any(String) } });
};

describe('audit unavailable: the API fails closed', () => {
  let audit: Awaited<ReturnType<typeof privateRedis>>;
  let t: TestAirlock;
  let redis: Redis;
  let admin: CreatedApiKey;
  let agent: CreatedApiKey;

  beforeAll(async () => {
    audit = await privateRedis();
    t = await startTestAirlock('audit-down', { AIRLOCK_ROLE: 'api', AIRLOCK_AUDIT_REDIS_URL: audit.url });
    redis = testRedis();
    admin = await t.key('admin');
    agent = await t.key('agent');
  });
  afterAll(async () => {
    redis?.disconnect();
    await t?.stop();
    await audit?.kill();
  });

  it('records go to the audit Redis, not the jobs Redis', async () => {
    expect((await t.request('GET', '/v1/profiles', agent.key)).status).toBe(200);
    expect(await audit.client.hlen(`{${t.prefix}}:audit:records`)).toBe(1);
    expect(await redis.exists(`{${t.prefix}}:audit:records`)).toBe(0);
  });

  // issue 11: no probe of the audit Redis before a mutation any more; the service's append is the
  // check, and a submission or key whose record fails is not done (was: left cancelled / revoked)
  it('a mutation whose record cannot be written is not done: no job is left or queued, no key is left, the answer is 503', async () => {
    // the audit Redis answers but appends fail: records is not a hash
    const records = `{${t.prefix}}:audit:records`;
    const saved = await audit.client.hgetall(records);
    await audit.client.del(records);
    await audit.client.set(records, 'not a hash');
    try {
      const before = await queueState(redis, t.prefix);
      expect503(await t.request('POST', '/v1/jobs', agent.key, JOB));
      expect503(await t.request('POST', '/v1/jobs?wait=5', agent.key, JOB));
      expect(await queueState(redis, t.prefix)).toEqual(before);

      const keysBefore = (await t.airlock.keys.list()).map((k) => k.id);
      expect503(await t.request('POST', '/v1/keys', admin.key, { role: 'admin' }));
      expect((await t.airlock.keys.list()).map((k) => k.id)).toEqual(keysBefore);

      // reads are refused too: their answer never leaves unrecorded
      expect503(await t.request('GET', '/v1/profiles', agent.key));
    } finally {
      await audit.client.del(records);
      if (Object.keys(saved).length > 0) await audit.client.hset(records, saved);
    }
    expect((await t.request('GET', '/v1/profiles', agent.key)).status).toBe(200);
  });

  it('with the audit Redis gone, every request is 503 AUDIT_UNAVAILABLE and nothing is queued', async () => {
    await audit.kill();
    const before = await queueState(redis, t.prefix);
    expect503(await t.request('POST', '/v1/jobs', agent.key, JOB));
    expect503(await t.request('POST', '/v1/jobs?wait=5', agent.key, JOB));
    expect(await queueState(redis, t.prefix)).toEqual(before);

    const keyCount = await redis.zcard(`{${t.prefix}}:apikeys`);
    expect503(await t.request('POST', '/v1/keys', admin.key, { role: 'agent' }));
    expect(await redis.zcard(`{${t.prefix}}:apikeys`)).toBe(keyCount);

    expect503(await t.request('GET', '/v1/profiles', agent.key));
    expect503(await t.request('GET', '/v1/keys', admin.key));
    expect503(await t.request('GET', '/v1/profiles', undefined)); // even a refusal is not answered unrecorded
    expect503(await t.request('GET', '/v1/nowhere', agent.key));
    // the probes are not audited, so they still answer
    expect((await t.request('GET', '/healthz', undefined)).status).toBe(200);
  });
});
