/**
 * Job records in Redis: the source of truth for a job's status (BullMQ only schedules).
 * Every status change is one Lua compare-and-set, so the API's cancel and the worker's
 * start/finish can race without a lost or double transition. Terminal transitions
 * publish on `<prefix>:job-events` so waiters wake up.
 *
 * `<prefix>:key-jobs:<keyId>` is the set of a key's non-terminal jobs (what revoking the key
 * must cancel): added in the create, removed by the same script as each terminal transition.
 * Like the other multi-key scripts of the deployment, the scripts name these keys from the
 * prefix (no hash tag).
 */
import type { Redis } from 'ioredis';
import { apiKeyRedisKey } from '../credentials/index.js';
import { guardRedis } from '../shared/index.js';
import { decodeJobInput, encodeJobInput } from './job-input-codec.js';
import { isTerminal, type JobError, type JobInput, type JobRecord, type JobResult, type JobStatus } from './job-types.js';

/**
 * KEYS[1] job hash
 * ARGV[1] allowed current statuses, comma-separated
 * ARGV[2] new status
 * ARGV[3] 1 if the new status is terminal (publish + expire)
 * ARGV[4] events channel
 * ARGV[5] ttl seconds for a finished record
 * ARGV[6] prefix of the key-jobs sets (`<prefix>:key-jobs:`)
 * ARGV[7..] field/value pairs to set
 * Returns {1, status} when applied, {0, current status or ''} when not.
 */
const TRANSITION_LUA = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {0, ''} end
local ok = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == cur then ok = true end end
if not ok then return {0, cur} end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[3] == '1' then
  redis.call('SREM', ARGV[6] .. (redis.call('HGET', KEYS[1], 'ownerKeyId') or ''), redis.call('HGET', KEYS[1], 'id'))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
  redis.call('PUBLISH', ARGV[4], cjson.encode({id = redis.call('HGET', KEYS[1], 'id'), status = ARGV[2]}))
end
return {1, ARGV[2]}
`;

/**
 * KEYS[1] job hash
 * ARGV[1] events channel, ARGV[2] cancel channel, ARGV[3] ttl seconds, ARGV[4] finishedAt,
 * ARGV[5] prefix of the key-jobs sets, ARGV[6] '1': queued jobs only (a running one is left
 * alone), ARGV[7] error JSON to record on a cancelled job, or ''.
 * queued → cancelled (returns 'did_cancel'); running → cancelRequested=1 + publish on the
 * cancel channel (returns 'cancelling'); otherwise returns the current status.
 */
const CANCEL_LUA = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return '' end
local id = redis.call('HGET', KEYS[1], 'id')
if cur == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[4])
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[7]) end
  redis.call('SREM', ARGV[5] .. (redis.call('HGET', KEYS[1], 'ownerKeyId') or ''), id)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('PUBLISH', ARGV[1], cjson.encode({id = id, status = 'cancelled'}))
  return 'did_cancel'
end
if cur == 'running' and ARGV[6] == '1' then return cur end
if cur == 'running' then
  redis.call('HSET', KEYS[1], 'cancelRequested', '1')
  redis.call('PUBLISH', ARGV[2], id)
  return 'cancelling'
end
return cur
`;

/**
 * KEYS[1] job hash
 * ARGV[1] prefix of the API key hashes, ARGV[2] prefix of the key-jobs sets, ARGV[3] events
 * channel, ARGV[4] ttl seconds, ARGV[5] workerId, ARGV[6] now (ISO), ARGV[7] error JSON for a refusal.
 * queued|running → running and counts the run: returns {1, 'running', attempts}. When the
 * job's API key is revoked or missing, the job never runs: queued|running → cancelled with
 * the error, returns {0, 'cancelled', 0, 'revoked'|'missing'}. Otherwise {0, current status or ''}.
 * The key is read in the same script as the compare-and-set: a revocation either precedes it
 * (the job is refused) or finds the job running (and may kill it).
 */
const START_LUA = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {0, ''} end
if cur ~= 'queued' and cur ~= 'running' then return {0, cur} end
local id = redis.call('HGET', KEYS[1], 'id')
local owner = redis.call('HGET', KEYS[1], 'ownerKeyId') or ''
local key = ARGV[1] .. owner
local refused = false
if not redis.call('HGET', key, 'id') then refused = 'missing'
elseif redis.call('HEXISTS', key, 'revokedAt') == 1 then refused = 'revoked' end
if refused then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[6], 'error', ARGV[7])
  redis.call('SREM', ARGV[2] .. owner, id)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
  redis.call('PUBLISH', ARGV[3], cjson.encode({id = id, status = 'cancelled'}))
  return {0, 'cancelled', 0, refused}
end
redis.call('HSET', KEYS[1], 'status', 'running', 'workerId', ARGV[5], 'startedAt', ARGV[6])
return {1, 'running', redis.call('HINCRBY', KEYS[1], 'attempts', 1)}
`;

export type CancelOutcome = 'did_cancel' | 'cancelling' | JobStatus;

/** Why a start was refused: the job's API key is revoked, or does not exist. */
export type KeyRefusal = 'revoked' | 'missing';

export interface StartOutcome {
  readonly applied: boolean;
  readonly status: JobStatus | undefined;
  /** Runs counted so far, this one included (0 when not applied). */
  readonly attempts: number;
  /** Set when the job was cancelled instead of started because of its key. */
  readonly refused?: KeyRefusal;
}

/** The error a job cancelled because of its key carries (one wording for the worker's refusal and the revocation's cancel). */
export const KEY_REVOKED_ERROR: JobError = Object.freeze({
  code: 'KEY_REVOKED',
  message: 'the API key that submitted this job was revoked (or no longer exists) before the job started; it did not run',
});

export class RedisJobStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly finishedTtlS: number,
  ) {}

  get eventsChannel(): string {
    return `${this.prefix}:job-events`;
  }
  get cancelChannel(): string {
    return `${this.prefix}:job-cancel`;
  }
  private key(id: string): string {
    return `${this.prefix}:job:${id}`;
  }
  private inputKey(id: string): string {
    return `${this.prefix}:job:${id}:input`;
  }
  private inputUsageKey(keyId: string): string {
    return `${this.prefix}:key-usage:${keyId}`;
  }
  private get keyJobsPrefix(): string {
    return `${this.prefix}:key-jobs:`;
  }

  async create(rec: { id: string; ownerKeyId: string; profile: string; createdAt: string }, input: JobInput): Promise<void> {
    // stored compressed, raw bytes for base64 files: stored bytes ≈ received bytes (job-input-codec.ts)
    const stored = await encodeJobInput(input);
    await guardRedis(() =>
      this.redis
        .multi()
        .hset(this.key(rec.id), { id: rec.id, status: 'queued', ownerKeyId: rec.ownerKeyId, profile: rec.profile, createdAt: rec.createdAt, attempts: '0', cancelRequested: '0' })
        .sadd(this.keyJobsPrefix + rec.ownerKeyId, rec.id)
        .set(this.inputKey(rec.id), stored)
        .expire(this.inputKey(rec.id), this.finishedTtlS)
        .hset(this.key(rec.id), 'inputBytes', String(stored.length))
        .hincrby(this.inputUsageKey(rec.ownerKeyId), 'inputBytes', stored.length)
        .hincrby(this.inputUsageKey(rec.ownerKeyId), 'inputs', 1)
        .exec(),
    );
  }

  /** Removes a record that never reached the queue (enqueue failed), so nothing dangles. */
  async discard(id: string, ownerKeyId: string): Promise<void> {
    await guardRedis(() =>
      this.redis
        .multi()
        .del(this.key(id), this.inputKey(id))
        .srem(this.keyJobsPrefix + ownerKeyId, id)
        .exec(),
    );
  }

  /** Ids of a key's jobs that were not terminal when last written (queued or running; a stale id is harmless: cancel finds it finished or gone). */
  async jobsOf(keyId: string): Promise<string[]> {
    return guardRedis(() => this.redis.smembers(this.keyJobsPrefix + keyId));
  }

  /** Drops an id from a key's set (its record is gone or already terminal). */
  async forget(keyId: string, id: string): Promise<void> {
    await guardRedis(() => this.redis.srem(this.keyJobsPrefix + keyId, id));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const h = await guardRedis(() => this.redis.hgetall(this.key(id)));
    if (h['id'] === undefined || h['status'] === undefined) return undefined;
    return {
      id: h['id'],
      status: h['status'] as JobStatus,
      ownerKeyId: h['ownerKeyId'] ?? '',
      profile: h['profile'] ?? '',
      createdAt: h['createdAt'] ?? '',
      ...(h['startedAt'] ? { startedAt: h['startedAt'] } : {}),
      ...(h['finishedAt'] ? { finishedAt: h['finishedAt'] } : {}),
      attempts: Number(h['attempts'] ?? 0),
      ...(h['workerId'] ? { workerId: h['workerId'] } : {}),
      cancelRequested: h['cancelRequested'] === '1',
      ...(h['result'] ? { result: JSON.parse(h['result']) as JobResult } : {}),
      ...(h['error'] ? { error: JSON.parse(h['error']) as JobError } : {}),
    };
  }

  async getInput(id: string): Promise<JobInput | undefined> {
    const raw = await guardRedis(() => this.redis.getBuffer(this.inputKey(id)));
    return raw === null ? undefined : decodeJobInput(raw);
  }

  /**
   * Bytes of input stored: this job's, and every job's of its key since the key was created
   * (`<prefix>:key-usage:<keyId>`, a counter a per-key quota can build on; job.submit records both).
   */
  async inputUsage(id: string, ownerKeyId: string): Promise<{ inputBytes: number; keyInputBytes: number; keyInputs: number }> {
    const [job, usage] = await guardRedis(() => Promise.all([this.redis.hget(this.key(id), 'inputBytes'), this.redis.hgetall(this.inputUsageKey(ownerKeyId))]));
    return { inputBytes: Number(job ?? 0), keyInputBytes: Number(usage['inputBytes'] ?? 0), keyInputs: Number(usage['inputs'] ?? 0) };
  }

  /** Compare-and-set. Returns whether it applied and the status the record now has. */
  async transition(id: string, from: readonly JobStatus[], to: JobStatus, fields: Record<string, string> = {}): Promise<{ applied: boolean; status: JobStatus | undefined }> {
    const args = Object.entries(fields).flat();
    const [applied, status] = (await guardRedis(() =>
      this.redis.eval(TRANSITION_LUA, 1, this.key(id), from.join(','), to, isTerminal(to) ? '1' : '0', this.eventsChannel, String(this.finishedTtlS), this.keyJobsPrefix, ...args),
    )) as [number, string];
    // the input outlives the run as long as the record does: a promotion request snapshots its command and patch
    if (applied === 1 && isTerminal(to)) await guardRedis(() => this.redis.expire(this.inputKey(id), this.finishedTtlS));
    return { applied: applied === 1, status: status === '' ? undefined : (status as JobStatus) };
  }

  /**
   * queued|running → running. Counts every run (a retry and a stalled-job recovery both count).
   * A job whose API key is revoked or missing is cancelled instead (`refused`), in the same step.
   */
  async start(id: string, workerId: string, startedAt: string): Promise<StartOutcome> {
    const r = (await guardRedis(() =>
      this.redis.eval(
        START_LUA,
        1,
        this.key(id),
        apiKeyRedisKey(this.prefix, ''),
        this.keyJobsPrefix,
        this.eventsChannel,
        String(this.finishedTtlS),
        workerId,
        startedAt,
        JSON.stringify(KEY_REVOKED_ERROR),
      ),
    )) as [number, string, number?, string?];
    const [applied, status, attempts, refused] = r;
    if (refused !== undefined) await guardRedis(() => this.redis.expire(this.inputKey(id), this.finishedTtlS));
    return {
      applied: applied === 1,
      status: status === '' ? undefined : (status as JobStatus),
      attempts: applied === 1 ? Number(attempts) : 0,
      ...(refused !== undefined ? { refused: refused as KeyRefusal } : {}),
    };
  }

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
    const r = (await guardRedis(() =>
      this.redis.eval(
        CANCEL_LUA,
        1,
        this.key(id),
        this.eventsChannel,
        this.cancelChannel,
        String(this.finishedTtlS),
        finishedAt,
        this.keyJobsPrefix,
        opts.queuedOnly === true ? '1' : '0',
        opts.error === undefined ? '' : JSON.stringify(opts.error),
      ),
    )) as string;
    return r === '' ? undefined : (r as CancelOutcome);
  }
}
