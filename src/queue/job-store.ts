/**
 * Job records in Redis: the source of truth for a job's status (BullMQ only schedules).
 * Every status change is one Lua compare-and-set, so the API's cancel and the worker's
 * start/finish can race without a lost or double transition. Terminal transitions
 * publish on `<prefix>:job-events` so waiters wake up.
 */
import type { Redis } from 'ioredis';
import { guardRedis } from '../shared/index.js';
import { isTerminal, type JobError, type JobInput, type JobRecord, type JobResult, type JobStatus } from './job-types.js';

/**
 * KEYS[1] job hash
 * ARGV[1] allowed current statuses, comma-separated
 * ARGV[2] new status
 * ARGV[3] 1 if the new status is terminal (publish + expire)
 * ARGV[4] events channel
 * ARGV[5] ttl seconds for a finished record
 * ARGV[6..] field/value pairs to set
 * Returns {1, status} when applied, {0, current status or ''} when not.
 */
const TRANSITION_LUA = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {0, ''} end
local ok = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == cur then ok = true end end
if not ok then return {0, cur} end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[3] == '1' then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
  redis.call('PUBLISH', ARGV[4], cjson.encode({id = redis.call('HGET', KEYS[1], 'id'), status = ARGV[2]}))
end
return {1, ARGV[2]}
`;

/**
 * KEYS[1] job hash
 * ARGV[1] events channel, ARGV[2] cancel channel, ARGV[3] ttl seconds, ARGV[4] finishedAt
 * queued → cancelled (returns 'did_cancel'); running → cancelRequested=1 + publish on the
 * cancel channel (returns 'cancelling'); otherwise returns the current status.
 */
const CANCEL_LUA = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return '' end
local id = redis.call('HGET', KEYS[1], 'id')
if cur == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[4])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('PUBLISH', ARGV[1], cjson.encode({id = id, status = 'cancelled'}))
  return 'did_cancel'
end
if cur == 'running' then
  redis.call('HSET', KEYS[1], 'cancelRequested', '1')
  redis.call('PUBLISH', ARGV[2], id)
  return 'cancelling'
end
return cur
`;

export type CancelOutcome = 'did_cancel' | 'cancelling' | JobStatus;

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

  async create(rec: { id: string; ownerKeyId: string; profile: string; createdAt: string }, input: JobInput): Promise<void> {
    await guardRedis(() =>
      this.redis
        .multi()
        .hset(this.key(rec.id), { id: rec.id, status: 'queued', ownerKeyId: rec.ownerKeyId, profile: rec.profile, createdAt: rec.createdAt, attempts: '0', cancelRequested: '0' })
        .set(this.inputKey(rec.id), JSON.stringify(input))
        .expire(this.inputKey(rec.id), this.finishedTtlS)
        .exec(),
    );
  }

  /** Removes a record that never reached the queue (enqueue failed), so nothing dangles. */
  async discard(id: string): Promise<void> {
    await guardRedis(() => this.redis.del(this.key(id), this.inputKey(id)));
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
    const raw = await guardRedis(() => this.redis.get(this.inputKey(id)));
    return raw === null ? undefined : (JSON.parse(raw) as JobInput);
  }

  /** Compare-and-set. Returns whether it applied and the status the record now has. */
  async transition(id: string, from: readonly JobStatus[], to: JobStatus, fields: Record<string, string> = {}): Promise<{ applied: boolean; status: JobStatus | undefined }> {
    const args = Object.entries(fields).flat();
    const [applied, status] = (await guardRedis(() =>
      this.redis.eval(TRANSITION_LUA, 1, this.key(id), from.join(','), to, isTerminal(to) ? '1' : '0', this.eventsChannel, String(this.finishedTtlS), ...args),
    )) as [number, string];
    // the input outlives the run as long as the record does: a promotion request snapshots its command and patch
    if (applied === 1 && isTerminal(to)) await guardRedis(() => this.redis.expire(this.inputKey(id), this.finishedTtlS));
    return { applied: applied === 1, status: status === '' ? undefined : (status as JobStatus) };
  }

  /** queued|running → running. Counts every run (a retry and a stalled-job recovery both count). */
  async start(id: string, workerId: string, startedAt: string) {
    const r = await this.transition(id, ['queued', 'running'], 'running', { workerId, startedAt });
    const attempts = r.applied ? await guardRedis(() => this.redis.hincrby(this.key(id), 'attempts', 1)) : 0;
    return { ...r, attempts };
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

  /** `did_cancel`: this call cancelled a queued job; `cancelling`: a running one will be killed; else the (terminal) status. */
  async cancel(id: string, finishedAt: string): Promise<CancelOutcome | undefined> {
    const r = (await guardRedis(() => this.redis.eval(CANCEL_LUA, 1, this.key(id), this.eventsChannel, this.cancelChannel, String(this.finishedTtlS), finishedAt))) as string;
    return r === '' ? undefined : (r as CancelOutcome);
  }
}
