/**
 * The worker's decisions, with the real Redis, BullMQ and audit log and the ContainerRuntime
 * port faked (test/helpers/fake-container-runtime.ts), so each case runs in milliseconds rather
 * than a container's seconds: retry classification, cancel before start, the fail-closed audit
 * paths, requeued failures, and a job BullMQ gives up on because it stalled.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore } from '../src/artifacts/index.js';
import { queryAudit, RedisAuditStore, type AuditStore } from '../src/audit/index.js';
import { ApiKeyStore } from '../src/credentials/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobProducer, JobWorker, RedisJobStore, WorkerRegistry, type JobInput, type JobRecord } from '../src/queue/index.js';
import { AppError, createLogger, systemClock } from '../src/shared/index.js';
import { FakeContainerRuntime } from './helpers/fake-container-runtime.js';
import { deletePrefix, startPrivateRedis, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';

const PROFILES = loadProfiles(resolve(import.meta.dirname, '../profiles'));
const SHELL = PROFILES.get('shell')!;
const INPUT: JobInput = { profile: 'shell', argv: ['true'], files: [], stdin: '', env: {}, limits: SHELL.profile.limits };
const unavailable = () => new AppError('SANDBOX_UNAVAILABLE', 'the engine hiccupped', { retryable: true });

let redis: Redis;
let prefix: string;
let dir: string;
let keys: ApiKeyStore;
let audit: RedisAuditStore;
const prefixes: string[] = [];
let runtime: FakeContainerRuntime;
const open: { close(): Promise<unknown> }[] = [];
const connections: Redis[] = [];

/** A deployment of its own (BullMQ's stalled-check key, set by any worker for its stalledInterval, is per queue). */
function freshPrefix(name: string): void {
  prefix = uniquePrefix(name);
  prefixes.push(prefix);
  keys = new ApiKeyStore(redis, prefix, systemClock);
  audit = new RedisAuditStore({ redis, prefix, clock: systemClock });
}

beforeAll(async () => {
  redis = testRedis();
  dir = await mkdtemp(join(tmpdir(), 'arj-'));
  freshPrefix('run-job');
});
afterEach(async () => {
  runtime?.release();
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

interface Setup {
  attempts?: number;
  audit?: AuditStore;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

function producer(attempts: number): JobProducer {
  const p = new JobProducer({ redis, subscriber: connection(), prefix, attempts, retryBackoffMs: 50, finishedTtlS: 3600, clock: systemClock });
  open.push(p);
  return p;
}

async function worker(s: Setup = {}, workerId = 'w-fake'): Promise<JobWorker> {
  const w = new JobWorker({
    redis: connection(),
    subscriber: connection(),
    prefix,
    workerId,
    registry: new WorkerRegistry(redis, prefix, 10_000),
    concurrency: 1,
    attempts: s.attempts ?? 3,
    lockDurationMs: s.lockDurationMs ?? 30_000,
    stalledIntervalMs: s.stalledIntervalMs ?? 30_000,
    finishedTtlS: 3600,
    runtime,
    profiles: PROFILES,
    images: new Map([[SHELL.profile.image, 'sha256:fake']]),
    clock: systemClock,
    logger: createLogger({ level: 'silent' }),
    audit: s.audit ?? audit,
    artifacts: new FileArtifactStore(join(dir, 'artifacts')),
    // an end that cannot be audited is held this long before it fails closed (worker-faults.redis.test.ts holds it through a Redis restart)
    finishHoldMs: 1000,
  });
  await w.start();
  open.push(w);
  return w;
}

/** A producer and a worker with the same number of attempts, and a job of a live key submitted. */
async function submit(s: Setup = {}, input: JobInput = INPUT): Promise<{ p: JobProducer; id: string }> {
  const p = producer(s.attempts ?? 3);
  await worker(s);
  const key = await keys.create({ role: 'agent' });
  return { p, id: (await p.submit(key.id, input)).id };
}

async function finished(p: JobProducer, id: string): Promise<JobRecord> {
  const rec = await p.waitForResult(id, 20_000);
  if (rec === undefined || rec.status === 'queued' || rec.status === 'running') throw new Error(`job ${id} did not finish: ${rec?.status}`);
  return rec;
}

const actions = async (id: string) => (await queryAudit(audit, { target: id, order: 'asc' })).records.map((r) => r.action);
const count = (list: string[], id: string) => list.filter((j) => j === id).length;

describe('retry classification', () => {
  it('a retryable infrastructure error is requeued and retried, attempts counting every run', async () => {
    runtime = new FakeContainerRuntime();
    runtime.plan = (_spec, n) => (n < 2 ? { start: () => Promise.reject(unavailable()) } : {});
    const { p, id } = await submit({ attempts: 3 });
    expect(await finished(p, id)).toMatchObject({ status: 'succeeded', attempts: 3, result: { exitCode: 0, stdout: 'ok\n' } });
    expect(count(runtime.jobsAt('create'), id)).toBe(3);
    expect(count(runtime.jobsAt('start'), id)).toBe(1);
    // each attempt's sandbox is removed, the failed ones included
    expect(count(runtime.jobsAt('remove'), id)).toBe(3);
    expect(runtime.leftovers()).toEqual([]);
    // job.start is written before each start; the failed starts ran nothing
    expect(await actions(id)).toEqual(['job.start', 'job.start', 'job.start', 'job.finish']);
  });

  it('a retryable error whose message says "install" is retried like any other (a stall is BullMQ’s signal, not a word)', async () => {
    runtime = new FakeContainerRuntime();
    const mount = new AppError('SANDBOX_UNAVAILABLE', 'container start failed: cannot mount /opt/install/cache', { retryable: true });
    runtime.plan = (_spec, n) => (n === 0 ? { start: () => Promise.reject(mount) } : {});
    const { p, id } = await submit({ attempts: 3 });
    expect(await finished(p, id)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a non-retryable error ends the job as error at once', async () => {
    runtime = new FakeContainerRuntime();
    runtime.plan = () => ({
      create: () => {
        throw new AppError('INTERNAL', 'refusing to create the container: PidsLimit 0');
      },
    });
    const { p, id } = await submit({ attempts: 3 });
    expect(await finished(p, id)).toMatchObject({ status: 'error', attempts: 1, error: { code: 'INTERNAL', message: /PidsLimit 0/ } });
    expect(count(runtime.jobsAt('create'), id)).toBe(0);
    expect(await actions(id)).toEqual(['job.finish']);
  });

  it('the last attempt ends as error with the retryable reason', async () => {
    runtime = new FakeContainerRuntime();
    runtime.plan = () => ({ start: () => Promise.reject(unavailable()) });
    const { p, id } = await submit({ attempts: 2 });
    expect(await finished(p, id)).toMatchObject({ status: 'error', attempts: 2, error: { code: 'SANDBOX_UNAVAILABLE', message: 'the engine hiccupped' } });
    expect(count(runtime.jobsAt('create'), id)).toBe(2);
    expect(runtime.jobsAt('start')).not.toContain(id);
    expect(runtime.leftovers()).toEqual([]);
  });

  it('a requeued failure waits as queued with its reason; a cancel during the failing attempt wins over the retry', async () => {
    runtime = new FakeContainerRuntime();
    const store = new RedisJobStore(redis, prefix, 3600);
    let requeued: JobRecord | undefined;
    runtime.plan = (spec, n) => (n === 0 ? { start: () => Promise.reject(unavailable()) } : { create: async () => void (requeued ??= await store.get(spec.jobId)) });
    const first = await submit({ attempts: 3 });
    // between the attempts, the record says why it waits
    const waiting = await pollUntil(async () => {
      const r = await store.get(first.id);
      return r?.status === 'queued' && r.attempts > 0 ? r : undefined;
    });
    expect(waiting).toMatchObject({ status: 'queued', attempts: 1, error: { code: 'SANDBOX_UNAVAILABLE' } });
    expect(await finished(first.p, first.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(requeued).toMatchObject({ status: 'running', attempts: 2 });

    // cancelled while its first attempt fails: the retry creates nothing and ends it as killed
    const key = await keys.create({ role: 'agent' });
    runtime.plan = (spec, n) =>
      n === 0
        ? {
            start: async () => {
              expect(await first.p.cancel(spec.jobId)).toBe('cancelling');
              throw unavailable();
            },
          }
        : {};
    const second = (await first.p.submit(key.id, INPUT)).id;
    expect(await finished(first.p, second)).toMatchObject({ status: 'killed', attempts: 2 });
    expect(count(runtime.jobsAt('create'), second)).toBe(1);
    expect(runtime.leftovers()).toEqual([]);
  });
});

describe('cancel before start', () => {
  it('a job cancelled while queued never gets a sandbox', async () => {
    runtime = new FakeContainerRuntime();
    const p = producer(3);
    const key = await keys.create({ role: 'agent' });
    const { id } = await p.submit(key.id, INPUT);
    expect(await p.cancel(id)).toBe('did_cancel');
    await worker();
    expect(await finished(p, id)).toMatchObject({ status: 'cancelled', attempts: 0 });
    // a later job runs, so the worker has looked at the queue since
    const later = (await p.submit(key.id, INPUT)).id;
    expect(await finished(p, later)).toMatchObject({ status: 'succeeded' });
    expect(runtime.jobsAt('create')).not.toContain(id);
  });

  it('a cancel that reached a running job before its sandbox was created: killed, nothing created', async () => {
    runtime = new FakeContainerRuntime();
    const p = producer(3);
    const store = new RedisJobStore(redis, prefix, 3600);
    const key = await keys.create({ role: 'agent' });
    const { id } = await p.submit(key.id, INPUT);
    // as if a worker started it and died before creating anything, and a DELETE came meanwhile
    expect(await store.start(id, 'w-dead', new Date().toISOString())).toMatchObject({ applied: true, attempts: 1 });
    expect(await p.cancel(id)).toBe('cancelling');
    await worker();
    expect(await finished(p, id)).toMatchObject({ status: 'killed', attempts: 2 });
    expect(runtime.jobsAt('create')).not.toContain(id);
    expect(await actions(id)).toEqual(['job.finish']);
  });

  it('a cancel during the run kills it (hang until aborted)', async () => {
    runtime = new FakeContainerRuntime();
    runtime.plan = () => ({ exec: 'hang' });
    const { p, id } = await submit();
    await pollUntil(() => runtime.jobsAt('exec').includes(id));
    expect(await p.cancel(id)).toBe('cancelling');
    expect(await finished(p, id)).toMatchObject({ status: 'killed', attempts: 1 });
    expect(runtime.leftovers()).toEqual([]);
  });
});

describe('fail-closed audit', () => {
  it('a job whose job.start cannot be audited never starts its container: requeued, then error on the last attempt', async () => {
    runtime = new FakeContainerRuntime();
    // an audit store on a Redis that is not there
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    connections.push(dead);
    const { p, id } = await submit({ attempts: 2, audit: new RedisAuditStore({ redis: dead, prefix, clock: systemClock }) });
    expect(await finished(p, id)).toMatchObject({ status: 'error', attempts: 2, error: { code: 'AUDIT_UNAVAILABLE' } });
    expect(count(runtime.jobsAt('create'), id)).toBe(2);
    expect(runtime.jobsAt('start')).not.toContain(id);
    expect(runtime.leftovers()).toEqual([]);
  });

  it('a job whose job.finish cannot be audited ends as error with its result withheld', async () => {
    runtime = new FakeContainerRuntime();
    const auditConnection = new Redis(TEST_REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    connections.push(auditConnection);
    // the audit Redis goes away while the program runs: job.start is written, job.finish cannot be
    runtime.plan = () => ({
      exec: () => {
        auditConnection.disconnect();
        return { stdout: Buffer.from('secret result\n') };
      },
    });
    const { p, id } = await submit({ attempts: 3, audit: new RedisAuditStore({ redis: auditConnection, prefix, clock: systemClock }) });
    const done = await finished(p, id);
    expect(done).toMatchObject({ status: 'error', attempts: 1, error: { code: 'AUDIT_UNAVAILABLE', message: /result is withheld/ } });
    expect(done.result).toBeUndefined();
    // never retried: a retry would run the program again
    expect(count(runtime.jobsAt('exec'), id)).toBe(1);
    expect(await actions(id)).toEqual(['job.start']);
  });
});

describe('a job BullMQ gives up on', () => {
  it('stalled more often than allowed: ended as error by BullMQ’s deferred failure, not by its message', async () => {
    freshPrefix('run-job-stall');
    runtime = new FakeContainerRuntime();
    // each worker that takes it dies (stops renewing its lock) while the program runs
    runtime.plan = () => ({ exec: 'freeze' });
    const fast = { attempts: 3, lockDurationMs: 600, stalledIntervalMs: 300 };
    const p = producer(3);
    const key = await keys.create({ role: 'agent' });
    const { id } = await p.submit(key.id, INPUT);
    for (const [n, name] of [
      [1, 'w-a'],
      [2, 'w-b'],
    ] as const) {
      const w = await worker(fast, name);
      await pollUntil(() => count(runtime.jobsAt('exec'), id) === n, 15_000);
      await w.closeNow();
    }
    await worker(fast, 'w-c');
    const done = await finished(p, id);
    expect(done).toMatchObject({ status: 'error', attempts: 2, error: { code: 'INTERNAL' } });
    // the third worker never ran it: BullMQ failed it on pick-up
    expect(count(runtime.jobsAt('create'), id)).toBe(2);
    expect(await actions(id)).toEqual(['job.start', 'job.start', 'job.finish']);
  }, 30_000);
});

describe('Redis round trips', () => {
  it('the worker sends three commands of its own per job (the start, the last look at the key, the finish), BullMQ’s and the audit log’s aside', async () => {
    const server = await startPrivateRedis();
    const clients: Redis[] = [];
    const client = (name?: string) => {
      const c = new Redis(server.url, { maxRetriesPerRequest: null, ...(name !== undefined ? { connectionName: name } : {}) });
      clients.push(c);
      return c;
    };
    const p = new JobProducer({ redis: client(), subscriber: client(), prefix, attempts: 1, retryBackoffMs: 50, finishedTtlS: 3600, clock: systemClock });
    runtime = new FakeContainerRuntime();
    const w = new JobWorker({
      redis: client('airlock-worker-under-test'),
      subscriber: client(),
      prefix,
      workerId: 'w-count',
      registry: new WorkerRegistry(client(), prefix, 10_000),
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
      // the audit log's appends (job.start, job.finish) go to the shared Redis: not counted here
      audit,
      artifacts: new FileArtifactStore(join(dir, 'artifacts')),
    });
    try {
      await w.start();
      const key = await new ApiKeyStore(client(), prefix, systemClock).create({ role: 'agent' });
      // a first job loads the scripts (EVALSHA from then on)
      await finished(p, (await p.submit(key.id, INPUT)).id);
      await server.client.config('SET', 'slowlog-log-slower-than', '0');
      await server.client.config('SET', 'slowlog-max-len', '100000');
      await server.client.slowlog('RESET');
      const id = (await p.submit(key.id, INPUT)).id;
      expect(await finished(p, id)).toMatchObject({ status: 'succeeded' });
      const log = (await server.client.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[], string, string][];
      // the worker's connection carries BullMQ's commands too (on its `jobs` keys); ours name the job's record or its key
      const ours = log
        .reverse()
        .filter(([, , , args, , name]) => name === 'airlock-worker-under-test' && args.some((a) => String(a).endsWith(`:job:${id}`) || String(a).includes(':apikey:')))
        .map(([, , , args]) => String(args[0]).toLowerCase());
      expect(ours).toEqual(['evalsha', 'hmget', 'evalsha']);
    } finally {
      await w.close();
      await p.close();
      for (const c of clients) c.disconnect();
      await server.stop();
    }
  });
});

async function pollUntil<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
