/**
 * Redis high availability (issue 19 item 2): Airlock on a primary, two replicas and three sentinels
 * (Debian's redis-server), every connection through Sentinel. Jobs run, the primary is killed
 * (SIGKILL) with jobs running and queued, the sentinels promote the replica, and Airlock goes on:
 * every accepted job ends succeeded, new jobs are taken, the audit chain verifies. Audit appends
 * WAIT for a replica (AIRLOCK_AUDIT_WAIT_REPLICAS=1): a job's submit record is appended after the
 * job is written, so the 202 comes only once a replica holds the job too. Two replicas, because
 * after the failover the promoted one needs a replica of its own for WAIT 1 to be met (with one,
 * every write is refused AUDIT_UNAVAILABLE until the dead node comes back as a replica).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { startSentinelSet, type SentinelSet } from './helpers/sentinel.js';

const SLEEPER = { runtime: 'python', files: [{ path: 'main.py', content: 'import time\ntime.sleep(1.5)\nprint("done")' }] };
const FINAL = new Set(['succeeded', 'failed', 'timeout', 'oom', 'output_limit', 'killed', 'policy_violation', 'patch_failed', 'error', 'cancelled']);

let set: SentinelSet;
let t: TestAirlock;
beforeAll(async () => {
  set = await startSentinelSet();
  t = await startTestAirlock('sentinel', {
    ...set.env(),
    AIRLOCK_AUDIT_WAIT_REPLICAS: '1',
    // a failover takes seconds: retries must outlast it, and a job whose worker lost its lock is taken again soon
    AIRLOCK_JOB_ATTEMPTS: '10',
    AIRLOCK_RETRY_BACKOFF_MS: '500',
    AIRLOCK_LOCK_DURATION_MS: '5000',
    AIRLOCK_STALLED_INTERVAL_MS: '5000',
  });
});
afterAll(async () => {
  await t?.stop();
  await set?.stop();
});

/** POST until accepted: while the sentinels fail over, the API answers 503 (nothing was queued). */
async function submit(key: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await t.request('POST', '/v1/jobs', key, SLEEPER);
    if (res.status === 202) return res.body.id as string;
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    if (Date.now() > deadline) throw new Error(`no job accepted within 30 s: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function finalState(key: string, id: string, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.request('GET', `/v1/jobs/${id}?wait=5`, key);
    if (res.status === 200 && FINAL.has(res.body.status)) return res.body;
    if (res.status !== 200 && res.status !== 503) throw new Error(`job ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    if (Date.now() > deadline) throw new Error(`job ${id} not final within ${timeoutMs} ms: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('Redis Sentinel failover', () => {
  it('the primary dies with jobs running and queued: every accepted job still succeeds on the promoted replica, new jobs are taken, the audit chain verifies', async () => {
    const { key } = await t.key('agent');
    const before = [await submit(key), await submit(key)];
    for (const id of before) expect((await finalState(key, id, 60_000)).status).toBe('succeeded');

    // two run, two wait (concurrency 2) when the primary is killed
    const during = [await submit(key), await submit(key), await submit(key), await submit(key)];
    const oldMaster = await set.masterPort();
    expect(oldMaster).toBe(set.primaryPort);
    await set.killPrimary();
    const newMaster = await set.waitForFailover(oldMaster, 30_000);
    expect(set.replicaPorts).toContain(newMaster);

    const after = [await submit(key), await submit(key)];
    const accepted = [...before, ...during, ...after];
    const ended = await Promise.all(accepted.map((id) => finalState(key, id, 120_000)));
    expect(ended.map((j) => [j.id, j.status, j.error])).toEqual(accepted.map((id) => [id, 'succeeded', undefined]));
    expect(ended.every((j) => j.stdout === 'done\n')).toBe(true);

    // every connection of the deployment moved: the API's, the worker's (BullMQ's too) and the audit log's
    const clients = await (async () => {
      const { Redis } = await import('ioredis');
      const r = new Redis(newMaster, '127.0.0.1', { maxRetriesPerRequest: 1 });
      try {
        return String(await r.client('LIST'));
      } finally {
        r.disconnect();
      }
    })();
    expect(clients.split('\n').filter((l) => l.includes('cmd=') && !l.includes('cmd=client')).length).toBeGreaterThanOrEqual(5);

    const admin = await t.key('admin');
    const verify = await t.request('GET', '/v1/audit/verify', admin.key);
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ ok: true });
    // each accepted job's trail is whole on the new master: submitted once, finished at least once
    for (const id of accepted) {
      const trail = await t.request('GET', `/v1/jobs/${id}/audit?limit=100`, key);
      const actions = (trail.body.records as { action: string }[]).map((r) => r.action);
      expect(actions.filter((a) => a === 'job.submit')).toHaveLength(1);
      expect(actions).toContain('job.finish');
    }
  });
});
