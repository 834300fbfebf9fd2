/**
 * Fairness between keys (issue 15): one key's backlog never delays another key's next job by
 * more than one job slot. The real Redis, BullMQ, limiter and worker; the ContainerRuntime port
 * faked (each run takes milliseconds), so 200 jobs run in seconds. The same backlog submitted
 * without the limiter's priority (plain FIFO) is measured beside it: the figure it improves on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore } from '../src/artifacts/index.js';
import { commandOrigin, RedisAuditStore } from '../src/audit/index.js';
import { ApiKeyStore, type ApiKeyInfo } from '../src/credentials/index.js';
import { AnomalyDetector, BASELINE_DEFAULTS, LIMIT_DEFAULTS, RateLimiter, RefusalRecorder } from '../src/monitor/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobProducer, JobService, JobWorker, WorkerRegistry, type JobInput, type JobRecord } from '../src/queue/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { FakeContainerRuntime } from './helpers/fake-container-runtime.js';
import { deletePrefix, testRedis, uniquePrefix } from './helpers/redis.js';

const PROFILES = loadProfiles(resolve(import.meta.dirname, '../profiles'));
const SHELL = PROFILES.get('shell')!;
const INPUT: JobInput = { profile: 'shell', argv: ['true'], files: [], stdin: '', env: {}, limits: SHELL.profile.limits };
const logger = createLogger({ level: 'silent' });
const BACKLOG = 200;

let redis: Redis;
let dir: string;
const prefixes: string[] = [];
const open: { close(): Promise<unknown> }[] = [];
const connections: Redis[] = [];

beforeAll(async () => {
  redis = testRedis();
  dir = await mkdtemp(join(tmpdir(), 'fair-'));
});
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  for (const c of connections.splice(0)) c.disconnect();
});
afterAll(async () => {
  try {
    for (const p of prefixes) await deletePrefix(redis, p);
  } finally {
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});

function connection(): Redis {
  const c = testRedis();
  connections.push(c);
  return c;
}

/** A deployment of its own: keys, a producer, the job service with its limiter, and a worker not yet started. */
async function deployment(name: string, concurrency: number) {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  const audit = new RedisAuditStore({ redis, prefix, clock: systemClock });
  const keys = new ApiKeyStore(redis, prefix, systemClock);
  const producer = new JobProducer({ redis, subscriber: connection(), prefix, attempts: 1, retryBackoffMs: 50, finishedTtlS: 3600, clock: systemClock });
  open.push(producer);
  const limiter = new RateLimiter({ redis, prefix, options: LIMIT_DEFAULTS, clock: systemClock });
  const refusals = new RefusalRecorder({ append: (e) => audit.append(e), windowMs: 10_000, now: () => Date.now(), onError: () => undefined });
  const behaviour = new AnomalyDetector({ redis, prefix, options: BASELINE_DEFAULTS, limiter, clock: systemClock, logger, append: (e) => audit.append(e) });
  const jobs = new JobService({ producer, audit, logger, limiter, refusals, behaviour });
  const runtime = new FakeContainerRuntime();
  // each run takes a few milliseconds, as a slot's occupancy
  runtime.plan = () => ({ exec: async () => (await new Promise((r) => setTimeout(r, 3)), {}) });
  const worker = new JobWorker({
    redis: connection(),
    subscriber: connection(),
    prefix,
    workerId: 'w-fair',
    registry: new WorkerRegistry(redis, prefix, 10_000),
    concurrency,
    attempts: 1,
    lockDurationMs: 30_000,
    stalledIntervalMs: 30_000,
    finishedTtlS: 3600,
    runtime,
    profiles: PROFILES,
    images: new Map([[SHELL.profile.image, 'sha256:fake']]),
    clock: systemClock,
    logger,
    audit,
    artifacts: new FileArtifactStore(join(dir, prefix)),
  });
  open.push(worker);
  const heavy = await keys.create({ role: 'agent', name: 'heavy' });
  const light = await keys.create({ role: 'agent', name: 'light' });
  // the heavy key may hold its whole backlog
  await limiter.setOverrides(heavy.id, { maxInflight: 1000, submitsPerMinute: 10_000 });
  const submit = (key: ApiKeyInfo) => jobs.submit(key, INPUT, commandOrigin('fairness test'));
  return { producer, runtime, worker, heavy, light, submit };
}

/** The heavy key's jobs that started after the light key's job was submitted and before it started. */
function heavyStartedBefore(runtime: FakeContainerRuntime, createdBefore: number, lightId: string): number {
  const order = runtime.jobsAt('create');
  const at = order.indexOf(lightId);
  expect(at).toBeGreaterThanOrEqual(0);
  return at - createdBefore;
}

async function finished(p: JobProducer, id: string): Promise<JobRecord> {
  const rec = await p.waitForResult(id, 60_000);
  if (rec === undefined || rec.status !== 'succeeded') throw new Error(`job ${id} did not succeed: ${rec?.status}`);
  return rec;
}

describe('fairness', () => {
  it(`a key with ${BACKLOG} queued jobs delays another key's next job by at most one slot (FIFO: ${BACKLOG})`, async () => {
    const d = await deployment('fair-queued', 1);
    const heavyIds: string[] = [];
    for (let i = 0; i < BACKLOG; i++) heavyIds.push((await d.submit(d.heavy)).id);
    const light = await d.submit(d.light);
    await d.worker.start();
    await finished(d.producer, light.id);
    const delayedBy = heavyStartedBefore(d.runtime, 0, light.id);
    expect(delayedBy).toBeLessThanOrEqual(1);
    // the heavy key's own jobs still run in the order it submitted them
    await finished(d.producer, heavyIds.at(-1)!);
    const heavyOrder = d.runtime.jobsAt('create').filter((id) => id !== light.id);
    expect(heavyOrder).toEqual(heavyIds);
    console.log(`fairness: light key's job started after ${delayedBy} of the heavy key's ${BACKLOG} queued jobs (worker concurrency 1)`);
  }, 120_000);

  it('the baseline it improves on: the same backlog queued FIFO (no priority) delays it by the whole backlog', async () => {
    const d = await deployment('fair-fifo', 1);
    for (let i = 0; i < BACKLOG; i++) await d.producer.submit(d.heavy.id, INPUT);
    const light = await d.producer.submit(d.light.id, INPUT);
    await d.worker.start();
    await finished(d.producer, light.id);
    const delayedBy = heavyStartedBefore(d.runtime, 0, light.id);
    expect(delayedBy).toBe(BACKLOG);
    console.log(`fairness baseline (FIFO): light key's job started after ${delayedBy} of the heavy key's jobs`);
  }, 120_000);

  it('while the backlog is being worked off (concurrency 2), a new key jumps to the next free slot', async () => {
    const d = await deployment('fair-live', 2);
    for (let i = 0; i < BACKLOG; i++) await d.submit(d.heavy);
    await d.worker.start();
    // let the worker get going on the backlog
    while (d.runtime.jobsAt('create').length < 20) await new Promise((r) => setTimeout(r, 5));
    const createdBefore = d.runtime.jobsAt('create').length;
    const light = await d.submit(d.light);
    await finished(d.producer, light.id);
    const delayedBy = heavyStartedBefore(d.runtime, createdBefore, light.id);
    // at most the jobs the two slots had already taken off the queue when it arrived
    expect(delayedBy).toBeLessThanOrEqual(2);
    console.log(`fairness (live, concurrency 2): light key's job started after ${delayedBy} more of the heavy key's jobs`);
  }, 120_000);
});
