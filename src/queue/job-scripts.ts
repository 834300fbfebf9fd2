/**
 * The job record's Lua scripts: every status change is one script (compare-and-set plus its
 * bookkeeping: the key's set of open jobs, the TTL of the record and of its input, the event),
 * so the API's cancel and the worker's start/finish race without a lost or double transition.
 *
 * Two keys are named from the record's owner inside the scripts (the caller knows only the
 * job id): the owner's API key hash and its set of open jobs. Both are under the deployment's
 * hash tag, like the declared keys, so each script stays within one Redis Cluster slot.
 */
import { z } from 'zod';
import { LuaScript } from '../shared/index.js';

const JOB_KEYS = {
  job: 'hash: the job record',
  input: "string: the job's stored input (kept as long as the record once the job ends)",
} as const;

/** Returns {1, status} when applied, {0, current status or ''} when not. */
export const TRANSITION_SCRIPT = new LuaScript({
  name: 'job-transition',
  doc: `Compare-and-set of a job's status, with the fields of the new status.
A terminal status also drops the job from its key's open set, expires the record and its input
after ttlS and publishes {id, status} on the events channel.
Returns {1, status} when applied, {0, current status or ''} when not.`,
  keys: JOB_KEYS,
  args: {
    from: 'allowed current statuses, comma-separated',
    to: 'the new status',
    terminal: "'1' when the new status is terminal",
    events: 'channel of terminal transitions',
    ttlS: 'seconds a finished record and its input are kept',
    keyJobsPrefix: "name of a key's set of open jobs, less the key id",
  },
  restArgs: 'field/value pairs to set with the status',
  reply: z.tuple([z.number(), z.string()]),
  body: `
local cur = redis.call('HGET', KEY.job, 'status')
if not cur then return {0, ''} end
local ok = false
for s in string.gmatch(ARG.from, '[^,]+') do if s == cur then ok = true end end
if not ok then return {0, cur} end
redis.call('HSET', KEY.job, 'status', ARG.to)
for i = ARG_REST, #ARGV, 2 do redis.call('HSET', KEY.job, ARGV[i], ARGV[i + 1]) end
if ARG.terminal == '1' then
  local id = redis.call('HGET', KEY.job, 'id')
  redis.call('SREM', ARG.keyJobsPrefix .. (redis.call('HGET', KEY.job, 'ownerKeyId') or ''), id)
  redis.call('EXPIRE', KEY.job, tonumber(ARG.ttlS))
  redis.call('EXPIRE', KEY.input, tonumber(ARG.ttlS))
  redis.call('PUBLISH', ARG.events, cjson.encode({id = id, status = ARG.to}))
end
return {1, ARG.to}
`,
});

const bulk = z.instanceof(Buffer).transform((b) => b.toString('utf8'));

/**
 * {applied, status, attempts, refused, record, input}: the record is HGETALL's flat list and
 * the input the stored bytes (nil when gone), both only when applied.
 */
export const START_SCRIPT = new LuaScript({
  name: 'job-start',
  doc: `queued|running -> running: counts the run (attempts) and returns the record and the input,
the whole start in one step. When the job's API key is revoked or missing the job never runs:
it is cancelled with the refusal error, its record and input expire after ttlS, and the
cancel is published. The key is read in the same script as the compare-and-set: a revocation
either precedes it (the job is refused) or finds the job running (and may kill it).
Returns {1, 'running', attempts, '', record, input} when started;
{0, 'cancelled', 0, 'revoked'|'missing', {}, nil} when refused;
{0, current status or '', 0, '', {}, nil} otherwise.`,
  keys: JOB_KEYS,
  args: {
    apiKeyPrefix: 'name of an API key hash, less the key id',
    keyJobsPrefix: "name of a key's set of open jobs, less the key id",
    events: 'channel of terminal transitions',
    ttlS: 'seconds a finished record and its input are kept',
    workerId: 'the worker starting it',
    now: 'ISO time of the start',
    refusal: 'error JSON recorded on a job refused for its key',
  },
  binaryReply: true,
  reply: z.tuple([z.number(), bulk, z.number(), bulk, z.array(bulk), z.instanceof(Buffer).nullable()]),
  body: `
local cur = redis.call('HGET', KEY.job, 'status')
if not cur then return {0, '', 0, '', {}, false} end
if cur ~= 'queued' and cur ~= 'running' then return {0, cur, 0, '', {}, false} end
local id = redis.call('HGET', KEY.job, 'id')
local owner = redis.call('HGET', KEY.job, 'ownerKeyId') or ''
local apiKey = ARG.apiKeyPrefix .. owner
local refused = false
if not redis.call('HGET', apiKey, 'id') then refused = 'missing'
elseif redis.call('HEXISTS', apiKey, 'revokedAt') == 1 then refused = 'revoked' end
if refused then
  redis.call('HSET', KEY.job, 'status', 'cancelled', 'finishedAt', ARG.now, 'error', ARG.refusal)
  redis.call('SREM', ARG.keyJobsPrefix .. owner, id)
  redis.call('EXPIRE', KEY.job, tonumber(ARG.ttlS))
  redis.call('EXPIRE', KEY.input, tonumber(ARG.ttlS))
  redis.call('PUBLISH', ARG.events, cjson.encode({id = id, status = 'cancelled'}))
  return {0, 'cancelled', 0, refused, {}, false}
end
redis.call('HSET', KEY.job, 'status', 'running', 'workerId', ARG.workerId, 'startedAt', ARG.now)
local attempts = redis.call('HINCRBY', KEY.job, 'attempts', 1)
return {1, 'running', attempts, '', redis.call('HGETALL', KEY.job), redis.call('GET', KEY.input)}
`,
});

export const CANCEL_SCRIPT = new LuaScript({
  name: 'job-cancel',
  doc: `queued -> cancelled (returns 'did_cancel'): the error is recorded, the job leaves its key's
open set, record and input expire after ttlS, the cancel is published on the events channel.
running -> cancelRequested=1 and the id published on the cancel channel, for the worker to kill
it (returns 'cancelling'), unless queuedOnly. Otherwise returns the current status ('' when gone).`,
  keys: JOB_KEYS,
  args: {
    events: 'channel of terminal transitions',
    cancelChannel: 'channel the workers listen on for kills',
    ttlS: 'seconds a finished record and its input are kept',
    finishedAt: 'ISO time of the cancel',
    keyJobsPrefix: "name of a key's set of open jobs, less the key id",
    queuedOnly: "'1': cancel a queued job only, leave a running one alone",
    error: "error JSON to record on a cancelled job, or ''",
  },
  reply: z.string(),
  body: `
local cur = redis.call('HGET', KEY.job, 'status')
if not cur then return '' end
local id = redis.call('HGET', KEY.job, 'id')
if cur == 'queued' then
  redis.call('HSET', KEY.job, 'status', 'cancelled', 'finishedAt', ARG.finishedAt)
  if ARG.error ~= '' then redis.call('HSET', KEY.job, 'error', ARG.error) end
  redis.call('SREM', ARG.keyJobsPrefix .. (redis.call('HGET', KEY.job, 'ownerKeyId') or ''), id)
  redis.call('EXPIRE', KEY.job, tonumber(ARG.ttlS))
  redis.call('EXPIRE', KEY.input, tonumber(ARG.ttlS))
  redis.call('PUBLISH', ARG.events, cjson.encode({id = id, status = 'cancelled'}))
  return 'did_cancel'
end
if cur == 'running' and ARG.queuedOnly == '1' then return cur end
if cur == 'running' then
  redis.call('HSET', KEY.job, 'cancelRequested', '1')
  redis.call('PUBLISH', ARG.cancelChannel, id)
  return 'cancelling'
end
return cur
`,
});
