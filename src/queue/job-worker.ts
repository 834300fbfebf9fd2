/**
 * The BullMQ adapter of the worker: takes jobs from the queue and hands each to runJob
 * (run-job.ts); holds the worker options and locks, the heartbeat and reaper, and the cancel
 * subscription. The one place that translates our outcomes for BullMQ: a requeued attempt is
 * rethrown (BullMQ backs off and retries), a job that ended as `error` becomes an
 * UnrecoverableError, and a job BullMQ gives up on by itself (stalled too often) still ends as
 * `error` in our record.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ArtifactStore } from '../artifacts/index.js';
import type { AuditStore } from '../audit/index.js';
import { ApiKeyStore } from '../credentials/index.js';
import type { IsolationTier, LoadedProfile } from '../profiles/index.js';
import { LABEL_JOB, LABEL_WORKER, type ContainerRuntime, type PoolState, type SandboxPool } from '../sandbox/index.js';
import { keyRoot, newId, type Clock, type Logger } from '../shared/index.js';
import { endAsError, failAttempt } from './job-endings.js';
import type { JobGrants } from './job-grants.js';
import { RedisJobStore } from './job-store.js';
import { JOBS_QUEUE, type QueuedJobData } from './queue-names.js';
import { runJob, type RunJobDeps } from './run-job.js';
import type { WorkerRegistry } from './worker-registry.js';

export interface JobWorkerOptions {
  /** Blocking connection for BullMQ (maxRetriesPerRequest: null). */
  redis: Redis;
  /** Connection used only for SUBSCRIBE (cancel requests). */
  subscriber: Redis;
  prefix: string;
  /** Must equal the runtime's worker id: containers are labelled with it. */
  workerId: string;
  /** Heartbeats: one registry (and TTL) for this worker's beats, the reaper and the API's /readyz. */
  registry: WorkerRegistry;
  concurrency: number;
  attempts: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  finishedTtlS: number;
  runtime: ContainerRuntime;
  /** Sandboxes started ahead of time; filled once start() has reaped this worker's leftovers, removed by close(). */
  pool?: SandboxPool;
  profiles: ReadonlyMap<string, LoadedProfile>;
  /** Image name → image ID (sha256:…), from <dataDir>/images.json. */
  images: ReadonlyMap<string, string>;
  clock: Clock;
  logger: Logger;
  /** Every job's lifecycle is written here (job.start before the container starts, job.finish after). */
  audit: AuditStore;
  /** Where collected artifacts go (content-addressed; the API serves them from here). */
  artifacts: ArtifactStore;
  /** Credentials and gateways for jobs granted tools (absent: this worker serves no tools). */
  grants?: JobGrants;
  /** Extra labels on every container (tests use this to find theirs). */
  labels?: Record<string, string>;
  /** How long a finished run's end is held while Redis is away (default FINISH_HOLD_MS). */
  finishHoldMs?: number;
}

export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${newId('w', 4).slice(2)}`;
}

export class JobWorker {
  readonly workerId: string;
  private readonly deps: RunJobDeps;
  private readonly store: RedisJobStore;
  private readonly registry: WorkerRegistry;
  private readonly running = new Map<string, AbortController>();
  private worker: Worker<QueuedJobData> | undefined;
  private beatTimer: NodeJS.Timeout | undefined;
  private readonly startedAt: string;
  private readonly log: Logger;

  constructor(private readonly opts: JobWorkerOptions) {
    this.workerId = opts.workerId;
    this.store = new RedisJobStore(opts.redis, opts.prefix, opts.finishedTtlS);
    this.registry = opts.registry;
    this.startedAt = new Date(opts.clock.now()).toISOString();
    this.log = opts.logger.child({ workerId: this.workerId });
    this.deps = {
      store: this.store,
      runtime: opts.runtime,
      pool: opts.pool,
      audit: opts.audit,
      artifacts: opts.artifacts,
      grants: opts.grants,
      keys: new ApiKeyStore(opts.redis, opts.prefix, opts.clock),
      profiles: opts.profiles,
      images: opts.images,
      clock: opts.clock,
      workerId: this.workerId,
      logger: this.log,
      labels: opts.labels,
      finishHoldMs: opts.finishHoldMs,
    };
  }

  async start(): Promise<void> {
    await this.heartbeat();
    await this.registry.publishImages(this.opts.images);
    // containers left by a dead worker (or by this worker id's previous life) are orphans
    const reaped = await this.reapOrphans(true);
    if (reaped > 0) this.log.warn({ reaped }, 'removed orphaned sandbox containers');
    this.opts.pool?.start();

    await this.opts.subscriber.subscribe(this.store.cancelChannel);
    this.opts.subscriber.on('message', (channel: string, jobId: string) => {
      if (channel === this.store.cancelChannel) this.running.get(jobId)?.abort();
    });

    this.worker = new Worker<QueuedJobData>(JOBS_QUEUE, (job) => this.process(job), {
      connection: this.opts.redis,
      prefix: keyRoot(this.opts.prefix),
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.lockDurationMs,
      stalledInterval: this.opts.stalledIntervalMs,
      maxStalledCount: 1,
      autorun: true,
    });
    this.worker.on('failed', (job, err) => {
      if (job === undefined || !gaveUp(job)) return;
      endAsError(this.deps, job.data.jobId, { code: 'INTERNAL', message: err.message }).catch((e: unknown) => this.log.error({ err: e }, 'could not record failure'));
    });
    this.worker.on('error', (err) => this.log.error({ err }, 'worker error'));
    this.beatTimer = setInterval(
      () => {
        // the reaper runs whether or not the beat got through (Redis away): it removes this worker's own leftovers without it
        this.heartbeat()
          .catch((err: unknown) => this.log.warn({ err }, 'heartbeat failed'))
          .then(() => this.reapOrphans(false))
          .then((reaped) => reaped > 0 && this.log.warn({ reaped }, 'removed leftover sandbox containers'))
          .catch((err: unknown) => this.log.warn({ err }, 'reaper failed'));
      },
      Math.max(500, Math.floor(this.opts.lockDurationMs / 3)),
    );
    this.beatTimer.unref();
  }

  /** Per pool: target, ready, being made, claims (what the heartbeat reports; undefined without a pool). */
  poolState(): Record<string, PoolState> | undefined {
    return this.opts.pool?.state();
  }

  private async heartbeat(): Promise<void> {
    let engineOk = true;
    let isolation: readonly IsolationTier[] = [];
    try {
      await this.opts.runtime.ping();
      // the tiers its engine runs (the API refuses jobs of a tier no live worker offers)
      isolation = await this.opts.runtime.isolations();
    } catch {
      engineOk = false;
    }
    const pool = this.poolState();
    await this.registry.beat({
      workerId: this.workerId,
      startedAt: this.startedAt,
      at: new Date(this.opts.clock.now()).toISOString(),
      engineOk,
      isolation,
      ...(pool ? { pool } : {}),
    });
  }

  /**
   * Removes managed containers whose worker is gone, and this worker's own leftovers: at start-up
   * all of them; later, a job's container whose job no longer runs here (its removal failed, e.g.
   * while the engine was away; the runtime retries those first). Unclaimed pool containers are the pool's.
   */
  private reapOrphans(includeOwn: boolean): Promise<number> {
    return this.opts.runtime.reap(async (labels) => {
      const owner = labels[LABEL_WORKER];
      if (owner === undefined) return true;
      if (owner === this.workerId) return includeOwn || this.isLeftover(labels);
      return !(await this.registry.isAlive(owner));
    });
  }

  private isLeftover(labels: Readonly<Record<string, string>>): boolean {
    const jobId = labels[LABEL_JOB];
    return jobId !== undefined && !this.running.has(jobId);
  }

  private async process(job: Job<QueuedJobData>): Promise<void> {
    const jobId = job.data.jobId;
    const abort = new AbortController();
    this.running.set(jobId, abort);
    try {
      await runJob(this.deps, { jobId, signal: abort.signal });
    } catch (err) {
      const failed = await failAttempt(this.deps, jobId, err, job.attemptsMade + 1 >= this.opts.attempts);
      throw failed.retry ? failed.error : new UnrecoverableError(failed.error.message);
    } finally {
      this.running.delete(jobId);
    }
  }

  /** Graceful drain: stop taking jobs, let running ones finish, then leave. */
  async close(): Promise<void> {
    clearInterval(this.beatTimer);
    if (this.worker !== undefined) {
      await blockingClientSettled(this.worker, this.log);
      // no await in between: the client cannot change state before close() disconnects it
      await this.worker.close();
    }
    // a stopped worker leaves no pooled container behind
    await this.opts.pool?.close();
    await this.opts.subscriber.unsubscribe(this.store.cancelChannel).catch(() => undefined);
    await this.registry.remove(this.workerId).catch(() => undefined);
  }

  /** Hard stop (tests): stops taking jobs and renewing locks without draining or ending running jobs, as a crash would. */
  async closeNow(): Promise<void> {
    clearInterval(this.beatTimer);
    this.opts.pool?.abandon();
    await this.worker?.close(true);
  }
}

/** While BullMQ's blocking client is between connections, close() waits: polled this often. */
const BLOCKING_SETTLE_POLL_MS = 50;

/**
 * Resolves once BullMQ's blocking client is connected (or ended). Worker.close() disconnects it and
 * waits for its 'end'; an ioredis client disconnected while it waits to reconnect emits none, so
 * close() would never return (bullmq #4656; seen here when a drain began just after a Redis restart).
 * Waiting first makes a drain during an outage wait for Redis instead of hanging for good.
 */
async function blockingClientSettled(worker: Worker<QueuedJobData>, log: Logger): Promise<void> {
  const client = await worker.backend.blockingConnection?.client.catch(() => undefined);
  if (client === undefined) return;
  for (let logged = false; BETWEEN_CONNECTIONS.has(client.status); logged = true) {
    if (!logged) log.info({ status: client.status }, 'closing: waiting for Redis before stopping the worker');
    await sleep(BLOCKING_SETTLE_POLL_MS);
  }
}
const BETWEEN_CONNECTIONS = new Set(['connecting', 'connect', 'reconnecting', 'close']);

/**
 * Whether BullMQ has given up on the job: it stalled more often than allowed (BullMQ marks the
 * job with a deferred failure and fails it when a worker next picks it up, without running it),
 * or its last attempt failed. `failed` fires on every attempt; the others are retries.
 */
function gaveUp(job: Job<QueuedJobData>): boolean {
  if (job.deferredFailure !== undefined && job.deferredFailure !== '') return true;
  return job.attemptsMade >= (job.opts.attempts ?? 1);
}
