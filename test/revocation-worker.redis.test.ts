/**
 * Issue 10, breach 6, the worker's side: a job whose API key is revoked between its dequeue
 * and its start, or between its start and its container's start, never runs. Real Redis,
 * BullMQ, audit log and worker; the ContainerRuntime port is a fake (the worker's decision
 * logic only; revocation.docker.test.ts runs the real engine).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore } from '../src/artifacts/index.js';
import { queryAudit, RedisAuditStore } from '../src/audit/index.js';
import { ApiKeyStore } from '../src/credentials/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobProducer, JobWorker, WorkerRegistry, type JobInput } from '../src/queue/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { FakeContainerRuntime } from './helpers/fake-container-runtime.js';
import { deletePrefix, testRedis, uniquePrefix } from './helpers/redis.js';

const PROFILES = loadProfiles(resolve(import.meta.dirname, '../profiles'));
const SHELL = PROFILES.get('shell')!;
const INPUT: JobInput = { profile: 'shell', argv: ['true'], files: [], stdin: '', env: {}, limits: SHELL.profile.limits };

describe('the worker refuses a job whose key was revoked before it ran', () => {
  let redis: Redis;
  let blocking: Redis;
  let workerSub: Redis;
  let producerSub: Redis;
  let prefix: string;
  let dir: string;
  let keys: ApiKeyStore;
  let audit: RedisAuditStore;
  let producer: JobProducer;
  let runtime: FakeContainerRuntime;
  let worker: JobWorker | undefined;

  beforeAll(async () => {
    [redis, blocking, workerSub, producerSub] = [testRedis(), testRedis(), testRedis(), testRedis()];
    prefix = uniquePrefix('revoke-worker');
    dir = await mkdtemp(join(tmpdir(), 'arw-'));
    keys = new ApiKeyStore(redis, prefix, systemClock);
    audit = new RedisAuditStore({ redis, prefix, clock: systemClock });
    producer = new JobProducer({ redis, subscriber: producerSub, prefix, attempts: 1, retryBackoffMs: 100, finishedTtlS: 3600, clock: systemClock });
    runtime = new FakeContainerRuntime();
  });
  afterAll(async () => {
    try {
      await worker?.close();
      await producer.close();
      await deletePrefix(redis, prefix);
    } finally {
      for (const c of [redis, blocking, workerSub, producerSub]) c.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  });

  async function startWorker(): Promise<void> {
    worker = new JobWorker({
      redis: blocking,
      subscriber: workerSub,
      prefix,
      workerId: 'w-fake',
      registry: new WorkerRegistry(redis, prefix, 10_000),
      concurrency: 1,
      attempts: 1,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      finishedTtlS: 3600,
      runtime,
      profiles: PROFILES,
      images: new Map([[SHELL.profile.image, 'sha256:fake']]),
      clock: systemClock,
      logger: createLogger({ level: 'silent' }),
      audit,
      artifacts: new FileArtifactStore(join(dir, 'artifacts')),
    });
    await worker.start();
  }

  const recordsOf = async (jobId: string) => (await queryAudit(audit, { target: jobId, order: 'asc' })).records;

  it('revoked after it was queued (the revocation’s sweep missed it): cancelled at the start, no container', async () => {
    const key = await keys.create({ role: 'agent' });
    const job = await producer.submit(key.id, INPUT);
    // the key only: as if the revoke landed between this job's dequeue and its start
    await keys.revoke(key.id);
    await startWorker();
    const done = await producer.waitForResult(job.id, 20_000);
    expect(done).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' }, attempts: 0 });
    expect(runtime.jobsAt('create')).not.toContain(job.id);
    const records = await recordsOf(job.id);
    expect(records.map((r) => r.action)).toEqual(['job.cancel']);
    expect(records[0]).toMatchObject({ actor: { type: 'worker', workerId: 'w-fake' }, outcome: { result: 'cancelled', error: 'KEY_REVOKED' }, details: { reason: 'key revoked' } });
  });

  it('revoked after its start, before its container starts: the last look refuses it, the program never runs', async () => {
    const key = await keys.create({ role: 'agent' });
    // between its start and its container's start (the fake's create runs after the worker's start)
    runtime.plan = () => ({
      create: async (spec) => {
        if (spec.jobId === job.id) await keys.revoke(key.id);
      },
    });
    const job = await producer.submit(key.id, INPUT);
    const done = await producer.waitForResult(job.id, 20_000);
    runtime.plan = () => ({});
    expect(done).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' }, attempts: 1 });
    expect(runtime.jobsAt('create')).toContain(job.id);
    expect(runtime.jobsAt('start')).not.toContain(job.id);
    const actions = (await recordsOf(job.id)).map((r) => r.action);
    expect(actions).toEqual(['job.cancel']);
    expect(await redis.smembers(`{${prefix}}:key-jobs:${key.id}`)).toEqual([]);
  });

  it('a live key’s job runs as before', async () => {
    const key = await keys.create({ role: 'agent' });
    const job = await producer.submit(key.id, INPUT);
    const done = await producer.waitForResult(job.id, 20_000);
    expect(done).toMatchObject({ status: 'succeeded', result: { exitCode: 0 } });
    expect(runtime.jobsAt('start')).toContain(job.id);
    expect((await recordsOf(job.id)).map((r) => r.action)).toEqual(['job.start', 'job.finish']);
    expect(await redis.smembers(`{${prefix}}:key-jobs:${key.id}`)).toEqual([]);
  });
});
