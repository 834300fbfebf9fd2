/**
 * Issue 10, breach 6 ("revocation revokes nothing already queued"), at the queue's level:
 * revoking a key cancels its queued jobs through the one cancel compare-and-set (one job.cancel
 * record each, naming the revocation), ends its running jobs' credentials, kills them only when
 * asked, and the start script refuses a job whose key is revoked or missing. Real Redis, real
 * BullMQ queue, real issuer; no worker (jobs are started with the worker's own start script).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit, RedisAuditStore, type AuditRecord } from '../src/audit/index.js';
import { ApiKeyStore, JobCredentialIssuer } from '../src/credentials/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobProducer, KeyRevocation, type JobInput } from '../src/queue/index.js';
import { AppError, systemClock } from '../src/shared/index.js';
import { deletePrefix, testRedis, uniquePrefix } from './helpers/redis.js';

const SHELL = loadProfiles(resolve(import.meta.dirname, '../profiles')).get('shell')!;
const INPUT: JobInput = { profile: 'shell', argv: ['sh', '-c', 'sleep 30'], files: [], stdin: '', env: {}, limits: SHELL.profile.limits };
const ADMIN = { type: 'key', keyId: 'key_aaaaaaaaaaaaaaaa', role: 'admin' } as const;

describe('key revocation (queue)', () => {
  let redis: Redis;
  let subscriber: Redis;
  let prefix: string;
  let dir: string;
  let keys: ApiKeyStore;
  let producer: JobProducer;
  let audit: RedisAuditStore;
  let issuer: JobCredentialIssuer;
  let revocation: KeyRevocation;

  beforeAll(async () => {
    redis = testRedis();
    subscriber = testRedis();
    prefix = uniquePrefix('revoke');
    dir = await mkdtemp(join(tmpdir(), 'arv-'));
    keys = new ApiKeyStore(redis, prefix, systemClock);
    producer = new JobProducer({ redis, prefix, attempts: 1, retryBackoffMs: 100, finishedTtlS: 3600, clock: systemClock });
    audit = new RedisAuditStore({ redis, prefix, clock: systemClock });
    issuer = await JobCredentialIssuer.open({ redis, prefix, clock: systemClock, keyDir: join(dir, 'keys') });
    revocation = new KeyRevocation({ keys, producer, credentials: issuer, audit });
  });
  afterAll(async () => {
    try {
      await producer.close();
      await deletePrefix(redis, prefix);
    } finally {
      redis.disconnect();
      subscriber.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  });

  const submit = async (keyId: string) => (await producer.submit(keyId, INPUT)).id;
  const startAsWorker = (jobId: string) => producer.store.start(jobId, 'w-test', new Date().toISOString());
  const keyJobs = (keyId: string) => redis.smembers(`{${prefix}}:key-jobs:${keyId}`);
  const records = async (action: AuditRecord['action'], target: string) => (await queryAudit(audit, { action, target, order: 'asc' })).records;
  const waiting = () => redis.lrange(`{${prefix}}:jobs:wait`, 0, -1);

  it('cancels the queued jobs of the key (one job.cancel record each), ends its running job’s credentials, leaves other keys alone', async () => {
    const a = await keys.create({ role: 'agent' });
    const b = await keys.create({ role: 'agent' });
    const [running, q1, q2] = [await submit(a.id), await submit(a.id), await submit(a.id)];
    const other = await submit(b.id);
    expect((await keyJobs(a.id)).sort()).toEqual([running, q1, q2].sort());
    expect(await startAsWorker(running)).toMatchObject({ applied: true, status: 'running', attempts: 1 });
    const token = (await issuer.mint({ jobId: running, keyId: a.id, profile: 'shell', tools: ['staging'], deadlineMs: Date.now() + 60_000 })).token;
    expect((await issuer.verify(token)).ok).toBe(true);

    const r = await revocation.revoke(a.id, { killRunning: false, actor: ADMIN });
    expect(r.key).toMatchObject({ id: a.id, revokedAt: expect.any(String) });
    expect([...r.cancelled].sort()).toEqual([q1, q2].sort());
    expect(r).toMatchObject({ killing: [], running: [running], tokensRevoked: 1 });

    for (const id of [q1, q2]) {
      expect(await producer.get(id)).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' }, finishedAt: expect.any(String) });
      const cancels = await records('job.cancel', id);
      expect(cancels).toHaveLength(1);
      expect(cancels[0]).toMatchObject({
        actor: ADMIN,
        outcome: { result: 'cancelled', error: 'KEY_REVOKED' },
        details: { reason: 'key revoked', keyId: a.id, killRunning: false },
      });
    }
    expect(await waiting()).not.toEqual(expect.arrayContaining([q1]));
    expect(await waiting()).not.toEqual(expect.arrayContaining([q2]));
    // the running job goes on (no kill asked), but the key's authority is gone: its token is dead
    expect(await producer.get(running)).toMatchObject({ status: 'running', cancelRequested: false });
    expect(await issuer.verify(token)).toEqual({ ok: false, reason: 'revoked' });
    expect(await records('credential.revoke', running)).toMatchObject([{ actor: ADMIN, details: { reason: 'key revoked', keyId: a.id, revoked: 1 } }]);
    expect(await records('job.cancel', running)).toEqual([]);
    // and no new one is minted for it
    await expect(issuer.mint({ jobId: running, keyId: a.id, profile: 'shell', tools: ['staging'], deadlineMs: Date.now() + 60_000 })).rejects.toMatchObject({
      code: 'KEY_REVOKED',
    });
    expect(await keyJobs(a.id)).toEqual([running]);

    expect(await producer.get(other)).toMatchObject({ status: 'queued' });
    expect(await keyJobs(b.id)).toEqual([other]);
    expect(await records('job.cancel', other)).toEqual([]);
  });

  it('with killRunning, asks the worker to kill the running job (job.cancel record, cancel message)', async () => {
    const c = await keys.create({ role: 'agent' });
    const running = await submit(c.id);
    const queued = await submit(c.id);
    await startAsWorker(running);
    const messages: string[] = [];
    await subscriber.subscribe(producer.store.cancelChannel);
    subscriber.on('message', (_channel: string, id: string) => void messages.push(id));

    const r = await revocation.revoke(c.id, { killRunning: true, actor: { type: 'system' } });
    expect(r).toMatchObject({ cancelled: [queued], killing: [running], running: [] });
    expect(await producer.get(running)).toMatchObject({ status: 'running', cancelRequested: true });
    await expect.poll(() => messages).toContain(running);
    expect(await records('job.cancel', running)).toMatchObject([
      { actor: { type: 'system' }, outcome: { result: 'killing' }, details: { reason: 'key revoked', killRunning: true } },
    ]);
    expect(await records('job.cancel', queued)).toHaveLength(1);
    await subscriber.unsubscribe(producer.store.cancelChannel);
  });

  it('the start script refuses a job whose key was revoked (the revocation’s sweep missed it) or is missing: cancelled, never running', async () => {
    const d = await keys.create({ role: 'agent' });
    const job = await submit(d.id);
    await keys.revoke(d.id); // the key only, as if the sweep had not reached this job yet
    expect(await startAsWorker(job)).toEqual({ applied: false, status: 'cancelled', attempts: 0, refused: 'revoked' });
    const rec = await producer.get(job);
    expect(rec).toMatchObject({ status: 'cancelled', attempts: 0, error: { code: 'KEY_REVOKED' } });
    expect(rec?.startedAt).toBeUndefined();
    expect(await keyJobs(d.id)).toEqual([]);
    // a second start (BullMQ retry, another worker) finds it cancelled
    expect(await startAsWorker(job)).toEqual({ applied: false, status: 'cancelled', attempts: 0 });

    const orphan = await submit('key_00000000deadbeef');
    expect(await startAsWorker(orphan)).toMatchObject({ applied: false, status: 'cancelled', refused: 'missing' });
  });

  it('keeps the key’s set to its non-terminal jobs; a revoke sweeps again idempotently; an unknown key is KEY_NOT_FOUND', async () => {
    const e = await keys.create({ role: 'agent' });
    const [done, cancelled] = [await submit(e.id), await submit(e.id)];
    await startAsWorker(done);
    await producer.store.finish(done, 'succeeded', { finishedAt: new Date().toISOString() });
    expect(await producer.cancel(cancelled)).toBe('did_cancel');
    expect(await keyJobs(e.id)).toEqual([]);
    const later = await submit(e.id);
    expect(await revocation.revoke(e.id, { killRunning: false, actor: ADMIN })).toMatchObject({ cancelled: [later] });
    expect(await revocation.revoke(e.id, { killRunning: false, actor: ADMIN })).toMatchObject({ cancelled: [], killing: [], running: [] });
    expect(await records('job.cancel', later)).toHaveLength(1);
    const err = await revocation.revoke('key_0000000000000000', { killRunning: true, actor: ADMIN }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('KEY_NOT_FOUND');
  });
});
