/**
 * The API side of the queue: creates a job record, enqueues it, cancels it and waits for
 * its result. It needs Redis only — never Docker.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { AppError, keyRoot, newId, parseStoredJson, redisCall, redisFailure, type Clock } from '../shared/index.js';
import { RedisJobStore, type CancelOutcome, type InputUsage } from './job-store.js';
import { isTerminal, type JobError, type JobInput, type JobRecord } from './job-types.js';
import { JOBS_QUEUE, type QueuedJobData } from './queue-names.js';

/** What the job scripts publish on the events channel. */
const JobEventSchema = z.object({ id: z.string(), status: z.string() });

export interface JobProducerOptions {
  /** Connection for commands; `enableOfflineQueue: false` so a Redis outage fails fast. */
  redis: Redis;
  /** A second connection, used only for SUBSCRIBE (waitForResult); absent: this producer cannot wait (e.g. the CLI). */
  subscriber?: Redis;
  prefix: string;
  attempts: number;
  retryBackoffMs: number;
  finishedTtlS: number;
  clock: Clock;
}

export class JobProducer {
  readonly store: RedisJobStore;
  private readonly queue: Queue<QueuedJobData>;
  private readonly waiters = new Map<string, Set<() => void>>();
  private subscribed: Promise<unknown> | undefined;

  constructor(private readonly opts: JobProducerOptions) {
    this.store = new RedisJobStore(opts.redis, opts.prefix, opts.finishedTtlS);
    this.queue = new Queue<QueuedJobData>(JOBS_QUEUE, { connection: opts.redis, prefix: keyRoot(opts.prefix) });
    opts.subscriber?.on('message', (channel: string, message: string) => {
      if (channel !== this.store.eventsChannel) return;
      let id: string;
      try {
        id = parseStoredJson(JobEventSchema, message, 'job event').id;
      } catch {
        return; // not one of ours: nobody to wake
      }
      for (const wake of this.waiters.get(id) ?? []) wake();
    });
  }

  /** Creates and queues a job at once (no audit record: JobService.submit records, then queues). */
  async submit(ownerKeyId: string, input: JobInput): Promise<JobRecord> {
    const { record } = await this.create(ownerKeyId, input);
    await this.enqueue(record);
    return record;
  }

  /** Writes a job's record and input, not yet queued: no worker can take it before `enqueue`. Also says what the input costs. */
  async create(ownerKeyId: string, input: JobInput, id: string = newId('job')): Promise<{ record: JobRecord; usage: InputUsage }> {
    const createdAt = new Date(this.opts.clock.now()).toISOString();
    const usage = await this.store.create({ id, ownerKeyId, profile: input.profile, createdAt }, input);
    return { record: { id, status: 'queued', ownerKeyId, profile: input.profile, createdAt, attempts: 0, cancelRequested: false }, usage };
  }

  /** Queues a created job; if that fails, its record is discarded (never one no worker will pick up). */
  async enqueue(rec: Pick<JobRecord, 'id' | 'ownerKeyId'>, opts: { priority?: number } = {}): Promise<void> {
    try {
      await this.queue.add(
        'run',
        { jobId: rec.id },
        {
          jobId: rec.id,
          // the limiter's fairness order (1 = the key has no backlog); BullMQ takes lower first, FIFO within one
          ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
          attempts: this.opts.attempts,
          backoff: { type: 'exponential', delay: this.opts.retryBackoffMs },
          removeOnComplete: true,
          removeOnFail: { age: this.opts.finishedTtlS },
        },
      );
    } catch (err) {
      await this.discard(rec).catch(() => undefined);
      throw redisFailure('enqueue the job', err);
    }
  }

  /** What a job's admission reads (monitor's RateLimiter): the key's open-jobs set and BullMQ's waiting jobs. */
  admissionKeys(ownerKeyId: string): { openJobs: string; wait: string; prioritized: string } {
    const queue = `${keyRoot(this.opts.prefix)}:${JOBS_QUEUE}`;
    return { openJobs: this.store.openJobsKey(ownerKeyId), wait: `${queue}:wait`, prioritized: `${queue}:prioritized` };
  }

  /** Removes a created job that was never queued (its record, its input, its key's index entry). */
  discard(rec: Pick<JobRecord, 'id' | 'ownerKeyId'>): Promise<void> {
    return this.store.discard(rec.id, rec.ownerKeyId);
  }

  /** What the job ran (kept as long as its record): a promotion snapshots its command and patch. */
  getInput(id: string): Promise<JobInput | undefined> {
    return this.store.getInput(id);
  }

  get(id: string): Promise<JobRecord | undefined> {
    return this.store.get(id);
  }

  /**
   * Queued → cancelled now; running → the worker kills it (status `killed`), unless `queuedOnly`.
   * `error`: why, recorded on a job this call cancels.
   */
  async cancel(id: string, opts: { queuedOnly?: boolean; error?: JobError } = {}): Promise<CancelOutcome | undefined> {
    const r = await this.store.cancel(id, new Date(this.opts.clock.now()).toISOString(), opts);
    if (r === 'did_cancel') {
      // best effort: a worker that still picks it up sees `cancelled` and skips it
      await this.queue.remove(id).catch(() => 0);
    }
    return r;
  }

  /** Resolves with the record once it is terminal, or as it is after `timeoutMs`. */
  async waitForResult(id: string, timeoutMs: number): Promise<JobRecord | undefined> {
    const subscriber = this.opts.subscriber;
    if (subscriber === undefined) throw new AppError('INTERNAL', 'this job producer has no subscriber connection and cannot wait for results');
    this.subscribed ??= subscriber.subscribe(this.store.eventsChannel);
    await this.subscribed;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const set = this.waiters.get(id) ?? new Set();
    set.add(wake);
    this.waiters.set(id, set);
    const timer = setTimeout(wake, timeoutMs);
    try {
      // subscribe first, then read: a finish between the two is not missed
      const rec = await this.store.get(id);
      if (rec === undefined || isTerminal(rec.status)) return rec;
      await woken;
      return await this.store.get(id);
    } finally {
      clearTimeout(timer);
      set.delete(wake);
      if (set.size === 0) this.waiters.delete(id);
    }
  }

  /** Counts for readiness and metrics. */
  async counts(): Promise<Record<string, number>> {
    return redisCall('count queued jobs', () => this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed'));
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
