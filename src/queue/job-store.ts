/**
 * Job records in Redis: the source of truth for a job's status (BullMQ only schedules).
 * Every status change is one Lua script (job-scripts.ts): the worker's start is one round trip
 * that also returns the record and the input, its finish one more. Terminal transitions
 * publish on `{prefix}:job-events` so waiters wake up.
 *
 * Keys, all under the deployment's hash tag `{prefix}`: `job:<id>` (hash), `job:<id>:input`
 * (the encoded input), `key-jobs:<keyId>` (set of a key's non-terminal jobs: what revoking the
 * key must cancel; added in the create, removed by the script of each terminal transition) and
 * `key-usage:<keyId>` (input bytes a key has stored).
 */
import type { Redis } from 'ioredis';
import { digestsIn } from '../artifacts/index.js';
import { apiKeyRedisKey } from '../credentials/index.js';
import { z } from 'zod';
import { execChecked, keyRoot, parseStored, redisCall } from '../shared/index.js';
import { decodeJobInput, encodeJobInput } from './job-input-codec.js';
import { JobEventLog } from './job-event-log.js';
import { hashOf, jobRecordOf } from './job-record-schema.js';
import { CANCEL_SCRIPT, START_SCRIPT, TRANSITION_SCRIPT } from './job-scripts.js';
import { isTerminal, JOB_STATUSES, type JobError, type JobInput, type JobRecord, type JobResult, type JobStatus } from './job-types.js';

export type CancelOutcome = 'did_cancel' | 'cancelling' | JobStatus;
const CANCEL_OUTCOMES = ['did_cancel', 'cancelling', ...JOB_STATUSES] as const;

/** Why a start was refused: the job's API key is revoked, or does not exist. */
export type KeyRefusal = 'revoked' | 'missing';

export interface StartOutcome {
  readonly applied: boolean;
  readonly status: JobStatus | undefined;
  /** Runs counted so far, this one included (0 when not applied). */
  readonly attempts: number;
  /** Set when the job was cancelled instead of started because of its key. */
  readonly refused?: KeyRefusal;
  /** The record as the start left it (applied only): e.g. `cancelRequested` by a cancel that landed before. */
  readonly record?: JobRecord;
  /** What the job runs (applied only; undefined if its input is gone). */
  readonly input?: JobInput;
}

/** The error a job cancelled because of its key carries (one wording for the worker's refusal and the revocation's cancel). */
export const KEY_REVOKED_ERROR: JobError = Object.freeze({
  code: 'KEY_REVOKED',
  message: 'the API key that submitted this job was revoked (or no longer exists) before the job started; it did not run',
});

const StatusSchema = z.enum(JOB_STATUSES);
const statusOrUndefined = (s: string, what: string): JobStatus | undefined => (s === '' ? undefined : parseStored(StatusSchema, s, what));

export class RedisJobStore {
  private readonly root: string;
  private readonly apiKeyPrefix: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly finishedTtlS: number,
  ) {
    this.root = keyRoot(prefix);
    this.apiKeyPrefix = apiKeyRedisKey(prefix, '');
    this.eventLog = new JobEventLog(redis, this.root, finishedTtlS);
  }

  /** Each job's live events (its start, its output as it comes): kept as long as a finished record. */
  readonly eventLog: JobEventLog;

  get eventsChannel(): string {
    return `${this.root}:job-events`;
  }
  get cancelChannel(): string {
    return `${this.root}:job-cancel`;
  }
  private key(id: string): string {
    return `${this.root}:job:${id}`;
  }
  private inputKey(id: string): string {
    return `${this.root}:job:${id}:input`;
  }
  private inputUsageKey(keyId: string): string {
    return `${this.root}:key-usage:${keyId}`;
  }
  /** The set of a key's open (queued or running) jobs: the limiter counts it as the key's in-flight jobs. */
  openJobsKey(keyId: string): string {
    return this.keyJobsPrefix + keyId;
  }
  private get keyJobsPrefix(): string {
    return `${this.root}:key-jobs:`;
  }
  /**
   * The artifact digests job records point at (their results' blobs and tars), for the artifact
   * garbage collector: every 64-hex name in each record's result (SCAN, never KEYS).
   */
  async *referencedArtifacts(): AsyncIterable<string> {
    const prefix = `${this.root}:job:`;
    let cursor = '0';
    do {
      const [next, keys] = await redisCall('list job records', () => this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500));
      cursor = next;
      const records = keys.filter((k) => !k.slice(prefix.length).includes(':'));
      for (const key of records) yield* digestsIn((await redisCall('read a job result', () => this.redis.hget(key, 'result'))) ?? '');
    } while (cursor !== '0');
  }

  private jobKeys(id: string) {
    return { job: this.key(id), input: this.inputKey(id) };
  }

  /**
   * Writes the record and its input. Returns the bytes of input stored: this job's, and every
   * job's of its key since the key was created (`key-usage:<keyId>`, a counter a per-key quota
   * can build on; job.submit records both), as this transaction left them.
   */
  async create(rec: { id: string; ownerKeyId: string; profile: string; createdAt: string }, input: JobInput): Promise<InputUsage> {
    // stored compressed, raw bytes for base64 files: stored bytes ≈ received bytes (job-input-codec.ts)
    const stored = await encodeJobInput(input);
    const replies = await execChecked(
      this.redis
        .multi()
        .hset(this.key(rec.id), {
          id: rec.id,
          status: 'queued',
          ownerKeyId: rec.ownerKeyId,
          profile: rec.profile,
          createdAt: rec.createdAt,
          attempts: '0',
          cancelRequested: '0',
          inputBytes: String(stored.length),
        })
        .sadd(this.keyJobsPrefix + rec.ownerKeyId, rec.id)
        .set(this.inputKey(rec.id), stored, 'EX', this.finishedTtlS)
        .hincrby(this.inputUsageKey(rec.ownerKeyId), 'inputBytes', stored.length)
        .hincrby(this.inputUsageKey(rec.ownerKeyId), 'inputs', 1),
      `create job ${rec.id}`,
    );
    // the two HINCRBY replies: the key's totals as this transaction left them
    const [keyInputBytes, keyInputs] = parseStored(z.tuple([z.number(), z.number()]), replies.slice(3), `input usage of key ${rec.ownerKeyId}`);
    return { inputBytes: stored.length, keyInputBytes, keyInputs };
  }

  /** Removes a record that never reached the queue (enqueue failed), so nothing dangles. */
  async discard(id: string, ownerKeyId: string): Promise<void> {
    // a pipeline, not MULTI: at maxmemory Redis refuses every command queued in a MULTI (even DEL),
    // while DEL and SREM alone still run, and a discard is most needed exactly then (a job whose
    // submission could not be recorded). A stale id left in the key's set is harmless (jobsOf).
    await execChecked(
      this.redis
        .pipeline()
        .del(this.key(id), this.inputKey(id))
        .srem(this.keyJobsPrefix + ownerKeyId, id),
      `discard job ${id}`,
    );
  }

  /** Ids of a key's jobs that were not terminal when last written (queued or running; a stale id is harmless: cancel finds it finished or gone). */
  async jobsOf(keyId: string): Promise<string[]> {
    return redisCall(`list the jobs of key ${keyId}`, () => this.redis.smembers(this.keyJobsPrefix + keyId));
  }

  /** Drops an id from a key's set (its record is gone or already terminal). */
  async forget(keyId: string, id: string): Promise<void> {
    await redisCall(`forget job ${id} of key ${keyId}`, () => this.redis.srem(this.keyJobsPrefix + keyId, id));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return jobRecordOf(await redisCall(`read job ${id}`, () => this.redis.hgetall(this.key(id))), id);
  }

  async getInput(id: string): Promise<JobInput | undefined> {
    const raw = await redisCall(`read the input of job ${id}`, () => this.redis.getBuffer(this.inputKey(id)));
    return raw === null ? undefined : decodeJobInput(raw, `input of job ${id}`);
  }

  /** Compare-and-set (one script, the TTLs of a terminal status included). Returns whether it applied and the status the record now has. */
  async transition(id: string, from: readonly JobStatus[], to: JobStatus, fields: Record<string, string> = {}): Promise<{ applied: boolean; status: JobStatus | undefined }> {
    const [applied, status] = await TRANSITION_SCRIPT.run(
      this.redis,
      this.jobKeys(id),
      { from: from.join(','), to, terminal: isTerminal(to) ? '1' : '0', events: this.eventsChannel, ttlS: this.finishedTtlS, keyJobsPrefix: this.keyJobsPrefix },
      { args: Object.entries(fields).flat() },
    );
    return { applied: applied === 1, status: statusOrUndefined(status, `status of job ${id}`) };
  }

  /**
   * queued|running → running, in one round trip that also returns the record and the input.
   * Counts every run (a retry and a stalled-job recovery both count). A job whose API key is
   * revoked or missing is cancelled instead (`refused`), in the same step.
   */
  async start(id: string, workerId: string, startedAt: string): Promise<StartOutcome> {
    const [applied, status, attempts, refused, record, input] = await START_SCRIPT.run(this.redis, this.jobKeys(id), {
      apiKeyPrefix: this.apiKeyPrefix,
      keyJobsPrefix: this.keyJobsPrefix,
      events: this.eventsChannel,
      ttlS: this.finishedTtlS,
      workerId,
      now: startedAt,
      refusal: JSON.stringify(KEY_REVOKED_ERROR),
    });
    const outcome = { applied: applied === 1, status: statusOrUndefined(status, `status of job ${id}`), attempts: applied === 1 ? attempts : 0 };
    if (refused !== '') return { ...outcome, refused: parseStored(z.enum(['revoked', 'missing']), refused, `start refusal of job ${id}`) };
    if (applied !== 1) return outcome;
    const rec = jobRecordOf(hashOf(record), id);
    return {
      ...outcome,
      ...(rec !== undefined ? { record: rec } : {}),
      ...(input !== null ? { input: await decodeJobInput(input, `input of job ${id}`) } : {}),
    };
  }

  /** Ends a queued or running job: status, result or error, and the TTLs, in one script. */
  async finish(id: string, status: JobStatus, data: { result?: JobResult; error?: JobError; finishedAt: string }) {
    const fields: Record<string, string> = { finishedAt: data.finishedAt };
    if (data.result) fields['result'] = JSON.stringify(data.result);
    if (data.error) fields['error'] = JSON.stringify(data.error);
    return this.transition(id, ['queued', 'running'], status, fields);
  }

  /** A retryable infrastructure failure: back to queued with the reason, BullMQ retries later. */
  async requeue(id: string, error: JobError) {
    return this.transition(id, ['running'], 'queued', { error: JSON.stringify(error) });
  }

  /**
   * `did_cancel`: this call cancelled a queued job; `cancelling`: a running one will be killed;
   * else the current status (terminal, or `running` with `queuedOnly`). `error`: recorded on a cancelled job (why).
   */
  async cancel(id: string, finishedAt: string, opts: { queuedOnly?: boolean; error?: JobError } = {}): Promise<CancelOutcome | undefined> {
    const r = await CANCEL_SCRIPT.run(this.redis, this.jobKeys(id), {
      events: this.eventsChannel,
      cancelChannel: this.cancelChannel,
      ttlS: this.finishedTtlS,
      finishedAt,
      keyJobsPrefix: this.keyJobsPrefix,
      queuedOnly: opts.queuedOnly === true ? '1' : '0',
      error: opts.error === undefined ? '' : JSON.stringify(opts.error),
    });
    return r === '' ? undefined : parseStored(z.enum(CANCEL_OUTCOMES), r, `cancel outcome of job ${id}`);
  }
}

/** What a job's stored input costs, and its key's running totals (for admins, and a future quota). */
export interface InputUsage {
  readonly inputBytes: number;
  readonly keyInputBytes: number;
  readonly keyInputs: number;
}
