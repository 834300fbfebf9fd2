/**
 * The worker through faults, with the ContainerRuntime port faked and Redis real: a Redis of the
 * test's own (AOF) restarted while a job runs (its end is held and written once Redis is back:
 * the result is kept, the program runs once), a hold that runs out (fail closed as before), and
 * the periodic reaper removing a container of this worker whose job no longer runs here, and a
 * drain that begins while Redis is away.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore } from '../src/artifacts/index.js';
import { queryAudit, RedisAuditStore } from '../src/audit/index.js';
import { ApiKeyStore } from '../src/credentials/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobProducer, JobWorker, WorkerRegistry, type JobInput, type JobRecord } from '../src/queue/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { FakeContainerRuntime } from './helpers/fake-container-runtime.js';
import { uniquePrefix } from './helpers/redis.js';
import { startRestartableRedis, type RestartableRedis } from './helpers/restartable-redis.js';

const PROFILES = loadProfiles(resolve(import.meta.dirname, '../profiles'));
const SHELL = PROFILES.get('shell')!;
const INPUT: JobInput = { profile: 'shell', argv: ['true'], files: [], stdin: '', env: {}, limits: SHELL.profile.limits };

let server: RestartableRedis;
let dir: string;
const open: { close(): Promise<unknown> }[] = [];
const connections: Redis[] = [];
/** Runs a test holds open: let go before the worker closes, even when the test failed. */
const gates: (() => void)[] = [];

function gate(): { wait: Promise<void>; release: () => void } {
  let release!: () => void;
  const wait = new Promise<void>((r) => (release = r));
  gates.push(release);
  return { wait, release };
}

beforeAll(async () => {
  server = await startRestartableRedis();
  dir = await mkdtemp(join(tmpdir(), 'awf-'));
});
afterEach(async () => {
  for (const g of gates.splice(0)) g();
  for (const o of open.splice(0).reverse()) await o.close();
  for (const c of connections.splice(0)) c.disconnect();
});
afterAll(async () => {
  await server.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** As the composition root connects: commands wait for Redis (worker, BullMQ) or fail fast (the audit log: fail closed). */
function waiting(): Redis {
  const c = new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
  c.on('error', () => undefined);
  connections.push(c);
  return c;
}
function failFast(): Redis {
  const c = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000, retryStrategy: () => 100 });
  c.on('error', () => undefined);
  connections.push(c);
  return c;
}

interface Deployment {
  prefix: string;
  runtime: FakeContainerRuntime;
  audit: RedisAuditStore;
  producer: JobProducer;
  worker: JobWorker;
  keyId: string;
}

async function deployment(name: string, runtime: FakeContainerRuntime, opts: { finishHoldMs?: number; workerId?: string } = {}): Promise<Deployment> {
  const prefix = uniquePrefix(name);
  const redis = waiting();
  const audit = new RedisAuditStore({ redis: failFast(), prefix, clock: systemClock });
  const producer = new JobProducer({ redis, subscriber: waiting(), prefix, attempts: 3, retryBackoffMs: 50, finishedTtlS: 3600, clock: systemClock });
  open.push(producer);
  const worker = new JobWorker({
    redis: waiting(),
    subscriber: waiting(),
    prefix,
    workerId: opts.workerId ?? 'w-fake',
    registry: new WorkerRegistry(redis, prefix, 10_000),
    concurrency: 2,
    attempts: 3,
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
    ...(opts.finishHoldMs !== undefined ? { finishHoldMs: opts.finishHoldMs } : {}),
  });
  await worker.start();
  open.push(worker);
  const key = await new ApiKeyStore(redis, prefix, systemClock).create({ role: 'agent' });
  return { prefix, runtime, audit, producer, worker, keyId: key.id };
}

async function finished(p: JobProducer, id: string, timeoutMs = 30_000): Promise<JobRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rec = await p.waitForResult(id, 2000).catch(() => undefined);
    if (rec !== undefined && rec.status !== 'queued' && rec.status !== 'running') return rec;
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish: ${rec?.status}`);
  }
}

async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const actions = async (audit: RedisAuditStore, id: string) => (await queryAudit(audit, { target: id, order: 'asc' })).records.map((r) => r.action);

describe('Redis restarted while a job runs', () => {
  it('the finished run’s end is held until Redis is back, then recorded: the result is kept and the program ran once', async () => {
    const runtime = new FakeContainerRuntime();
    const g = gate();
    runtime.plan = () => ({ exec: async () => (await g.wait, { stdout: Buffer.from('kept\n') }) });
    const d = await deployment('faults-hold', runtime);
    const { id } = await d.producer.submit(d.keyId, INPUT);
    await pollUntil(() => runtime.jobsAt('exec').includes(id), 10_000);

    // the run ends while Redis is away (SHUTDOWN: the AOF is flushed), and Redis comes back 3 s later
    await server.shutdown();
    g.release();
    await new Promise((r) => setTimeout(r, 3000));
    await server.start();

    const done = await finished(d.producer, id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, result: { exitCode: 0, stdout: 'kept\n' } });
    expect(runtime.jobsAt('exec').filter((j) => j === id)).toHaveLength(1);
    expect(await actions(d.audit, id)).toEqual(['job.start', 'job.finish']);
    expect(runtime.leftovers()).toEqual([]);
  }, 60_000);

  it('an end that cannot be written within the hold fails closed: error, result withheld, never run again', async () => {
    const runtime = new FakeContainerRuntime();
    const g = gate();
    runtime.plan = () => ({ exec: async () => (await g.wait, { stdout: Buffer.from('withheld\n') }) });
    const d = await deployment('faults-hold-out', runtime, { finishHoldMs: 1500 });
    const { id } = await d.producer.submit(d.keyId, INPUT);
    await pollUntil(() => runtime.jobsAt('exec').includes(id), 10_000);
    await server.shutdown();
    g.release();
    // longer than the hold: the append gave up while Redis was away
    await new Promise((r) => setTimeout(r, 4000));
    await server.start();

    const done = await finished(d.producer, id);
    expect(done).toMatchObject({ status: 'error', error: { code: 'AUDIT_UNAVAILABLE', message: /result is withheld/ } });
    expect(done.result).toBeUndefined();
    expect(runtime.jobsAt('exec').filter((j) => j === id)).toHaveLength(1);
  }, 60_000);
});

describe('a drain that begins while Redis is away', () => {
  it('waits for Redis and then ends: BullMQ alone would wait for good (its blocking client is mid-reconnect)', async () => {
    const runtime = new FakeContainerRuntime();
    runtime.plan = () => ({ exec: () => Promise.resolve({ stdout: Buffer.from('ok\n') }) });
    const d = await deployment('faults-drain', runtime);
    // a job through first: the worker is then waiting for the next one
    const { id } = await d.producer.submit(d.keyId, INPUT);
    expect(await finished(d.producer, id)).toMatchObject({ status: 'succeeded' });

    await server.shutdown();
    // its connections are retrying (every 100 ms) when the drain begins
    await new Promise((r) => setTimeout(r, 1000));
    const closing = d.worker.close().then(() => 'closed');
    await new Promise((r) => setTimeout(r, 1000));
    await server.start();
    // a hang, not a duration: BullMQ's own close never returns here
    expect(await Promise.race([closing, new Promise((r) => setTimeout(() => r('still closing'), 30_000))])).toBe('closed');
  }, 60_000);
});

describe('the periodic reaper', () => {
  it('removes a container of this worker whose job no longer runs here, without a restart', async () => {
    const runtime = new FakeContainerRuntime('w-reaper');
    const d = await deployment('faults-reaper', runtime, { workerId: 'w-reaper' });
    // what a removal that failed while the engine was away leaves: a job's container, its job long over
    const spec = { jobId: 'job_gone', labels: {} } as unknown as Parameters<FakeContainerRuntime['create']>[0];
    await runtime.create(spec);
    expect(runtime.leftovers()).toHaveLength(1);
    // a job running now keeps its container
    const g = gate();
    runtime.plan = (s) => (s.jobId === 'job_gone' ? {} : { exec: async () => (await g.wait, {}) });
    const { id } = await d.producer.submit(d.keyId, INPUT);
    await pollUntil(() => runtime.jobsAt('exec').includes(id), 10_000);
    // beats come every lockDuration / 3 (10 s here)
    await pollUntil(() => runtime.leftovers().length === 1, 25_000);
    expect(runtime.leftovers()[0]).toContain(id);
    g.release();
    expect(await finished(d.producer, id)).toMatchObject({ status: 'succeeded' });
    expect(runtime.leftovers()).toEqual([]);
  }, 60_000);
});
