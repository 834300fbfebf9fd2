/**
 * Redis near and at its memory cap (issue 10): /readyz reports the use against `maxmemory`
 * and turns `degraded` (with a warning in the log) above MEMORY_ALERT_RATIO; at the cap
 * (`noeviction`) a submission fails closed with 503 and nothing is mutated unrecorded: no job
 * (and at most the record of the refusal). Runs against its own redis-server with a small cap (never the shared one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAuditStore } from '../src/audit/index.js';
import { MEMORY_ALERT_RATIO } from '../src/api/routes/health.js';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

const MAX_MEMORY_BYTES = 12 * 1024 * 1024;

/** A private redis-server on a free port, capped at `maxBytes`, no persistence. */
async function startRedis(maxBytes: number): Promise<{ url: string; proc: ChildProcess }> {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory', String(maxBytes), '--maxmemory-policy', 'noeviction'],
      {
        stdio: 'ignore',
      },
    );
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    for (let i = 0; i < 40; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      if (proc.exitCode !== null) break;
      if (
        (await probe.connect().then(
          () => probe.ping(),
          () => null,
        )) === 'PONG'
      ) {
        probe.disconnect();
        return { url: `redis://127.0.0.1:${port}`, proc };
      }
    }
    probe.disconnect();
    proc.kill('SIGKILL');
  }
  throw new Error('could not start a private redis-server');
}

describe('Redis memory cap', () => {
  let redisProc: ChildProcess | undefined;
  let redis: Redis;
  let t: TestAirlock;
  let agent: CreatedApiKey;
  const lines: string[] = [];

  beforeAll(async () => {
    const r = await startRedis(MAX_MEMORY_BYTES);
    redisProc = r.proc;
    redis = new Redis(r.url, { maxRetriesPerRequest: 1 });
    t = await startTestAirlock('redis-memory', { AIRLOCK_REDIS_URL: r.url }, { logLines: lines });
    agent = await t.key('agent');
  });
  afterAll(async () => {
    await redis?.del(...(await redis.keys('junk:*')), 'junk:none');
    await t?.stop();
    redis?.disconnect();
    redisProc?.kill('SIGKILL');
  });

  const readyz = async () => t.request('GET', '/readyz', undefined);
  const usedBytes = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  /** Writes 64 KiB values until used memory passes `bytes`, or Redis refuses (OOM). */
  const fillTo = async (bytes: number) => {
    const value = 'x'.repeat(64 * 1024);
    for (let i = 0; (await usedBytes()) < bytes; i += 1) {
      const ok = await redis.set(`junk:${i}:${Math.random()}`, value).then(
        () => true,
        (err: Error) => (/OOM/.test(err.message) ? false : Promise.reject(err)),
      );
      if (!ok) return;
    }
  };

  it('reports memory use against maxmemory, turns degraded near the cap, and fails closed at it', async () => {
    // a worker reports a reachable engine: ready, with the cap and the use
    let ready = await readyz();
    for (let i = 0; i < 50 && ready.body.docker !== true; i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      ready = await readyz();
    }
    expect(ready.status, JSON.stringify(ready.body)).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', memory: { redis: { maxBytes: MAX_MEMORY_BYTES, alert: false } } });
    expect(ready.body.memory.redis.usedRatio).toBeLessThan(MEMORY_ALERT_RATIO);

    await fillTo(MAX_MEMORY_BYTES * (MEMORY_ALERT_RATIO + 0.05));
    const near = await readyz();
    expect(near.status).toBe(200);
    expect(near.body).toMatchObject({ status: 'degraded', memory: { redis: { maxBytes: MAX_MEMORY_BYTES, alert: true } } });
    expect(near.body.memory.redis.usedRatio).toBeGreaterThanOrEqual(MEMORY_ALERT_RATIO);
    const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string; redis?: string }).find((l) => l.level === 40 && l.redis === 'main');
    expect(warning?.msg).toMatch(/memory is above 80% of maxmemory/);

    // at the cap: the submission is refused 503 and leaves neither a job nor a record
    await fillTo(MAX_MEMORY_BYTES * 2);
    const store = new RedisAuditStore({ redis, prefix: t.prefix });
    const head = (await store.head()).seq;
    const res = await t.request('POST', '/v1/jobs', agent.key, { runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] });
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(['REDIS_UNAVAILABLE', 'AUDIT_UNAVAILABLE']).toContain(res.body.error.code);
    expect(await redis.keys(`{${t.prefix}}:job:*`)).toEqual([]);
    // memory hovers at the cap, so the refusal itself may or may not find room to be recorded;
    // what may never happen is an accepted job, or a record of one
    const after = (await store.head()).seq;
    expect(after - head).toBeLessThanOrEqual(1);
    if (after > head) expect(JSON.parse((await store.readRaw(after, 1))[0] ?? '{}')).toMatchObject({ action: 'job.submit', target: null, outcome: { status: 503 } });
    expect((await readyz()).body).toMatchObject({ status: 'degraded' });
  });
});
