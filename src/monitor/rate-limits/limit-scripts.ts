/**
 * The limiter's Lua: one script per check, so a check and what it takes are atomic across API
 * processes. Rates are GCRA (the generic cell rate algorithm: one "theoretical arrival time" per
 * bucket, a burst of the whole window allowed, Retry-After exact); the time is the caller's
 * clock (ARG.nowMs), never Redis's, so tests replay weeks with a fake clock. Every key is under
 * the deployment's hash tag (the caller names them from keyRoot).
 */
import { z } from 'zod';
import { LuaScript } from '../../shared/index.js';

/**
 * GCRA over the hash KEY.<bucket>: `gcra(bucket, limit, periodMs, cost)` returns
 * allowed, remaining, resetMs, retryAfterMs, and the new TAT to store (only stored by the caller
 * when every check passed).
 */
const GCRA = `
local function gcra(bucket, limit, periodMs, cost, nowMs)
  local interval = periodMs / limit
  local tat = tonumber(redis.call('HGET', bucket, 'tat') or '0') or 0
  if tat < nowMs then tat = nowMs end
  local newTat = tat + cost * interval
  local allowAt = newTat - periodMs
  if allowAt > nowMs then
    return false, 0, math.ceil(tat - nowMs), math.ceil(allowAt - nowMs), tat
  end
  return true, math.floor((nowMs + periodMs - newTat) / interval), math.ceil(newTat - nowMs), 0, newTat
end
local function store(bucket, tat, nowMs)
  redis.call('HSET', bucket, 'tat', tostring(tat))
  redis.call('PEXPIRE', bucket, math.max(1000, math.ceil(tat - nowMs) + 1000))
end
-- a key's limit: its override, the role's default, lowered by a live throttle
local function limitOf(field, default, nowMs)
  local limit = tonumber(redis.call('HGET', KEY.overrides, field) or '') or tonumber(default)
  local untilMs = tonumber(redis.call('HGET', KEY.throttle, 'untilMs') or '0') or 0
  local throttled = 0
  if untilMs > nowMs then
    local t = tonumber(redis.call('HGET', KEY.throttle, field) or '')
    if t ~= nil and t < limit then limit = t; throttled = 1 end
  end
  return limit, throttled
end
`;

/** {allowed, limit, remaining, resetMs, retryAfterMs, throttled} */
const RateReply = z.tuple([z.number(), z.number(), z.number(), z.number(), z.number(), z.number()]);

export const REQUEST_LIMIT_SCRIPT = new LuaScript({
  name: 'ratelimit-request',
  doc: `One API request of a subject (a key, or a source address) against its requests per minute:
the key's override or the role's default, lowered while the key is throttled.
Returns {allowed 1|0, limit, remaining, resetMs, retryAfterMs, throttled 1|0}.`,
  keys: {
    bucket: 'hash: the GCRA state of this subject (tat)',
    overrides: "hash: the key's own limits (field requestsPerMinute), may be absent",
    throttle: "hash: the key's throttle (requestsPerMinute, untilMs), may be absent",
  },
  args: { nowMs: "the caller's clock", defaultLimit: 'requests per minute unless overridden', periodMs: 'the window (60000)' },
  reply: RateReply,
  // a request's own bucket (a few bytes, expiring) is written even at maxmemory: at the cap every
  // write of the service is refused anyway, and reads must still be served and still be limited
  flags: ['allow-oom'],
  body: `${GCRA}
local nowMs = tonumber(ARG.nowMs)
local limit, throttled = limitOf('requestsPerMinute', ARG.defaultLimit, nowMs)
local ok, remaining, resetMs, retryMs, tat = gcra(KEY.bucket, limit, tonumber(ARG.periodMs), 1, nowMs)
if ok then store(KEY.bucket, tat, nowMs) end
return {ok and 1 or 0, limit, remaining, resetMs, retryMs, throttled}
`,
});

/** {allowed, refusing limit or '', limit, remaining, resetMs, retryAfterMs, throttled, priority} */
const AdmitReply = z.tuple([z.number(), z.string(), z.number(), z.number(), z.number(), z.number(), z.number(), z.number()]);

export const ADMIT_JOB_SCRIPT = new LuaScript({
  name: 'ratelimit-admit-job',
  doc: `Admits one job of a key, or names the limit that refuses it, checked in this order:
queueMaxDepth (jobs waiting in the whole deployment), maxInflight (the key's queued + running
jobs: its set of open jobs, which every terminal transition leaves), submitsPerMinute and
inputBytesPerDay (GCRA). Nothing is taken unless all pass. Admitted: the job id joins the key's
open set (so two racing submissions cannot both take the last slot) and gets its BullMQ priority:
the key's position in its own backlog (1 when it has none), so a key with a long backlog never
delays another key's next job by more than one slot.
Returns {1, '', limit, remaining, resetMs, 0, throttled, priority} or {0, limit name, limit, 0, resetMs, retryAfterMs, throttled, 0}.`,
  keys: {
    submits: 'hash: GCRA state of the key’s submissions',
    bytes: 'hash: GCRA state of the key’s input bytes',
    overrides: "hash: the key's own limits, may be absent",
    throttle: "hash: the key's throttle, may be absent",
    openJobs: "set: the key's queued and running jobs (the job store's key-jobs set)",
    state: "hash: the key's fairness sequence (seq)",
    wait: "BullMQ's wait list",
    prioritized: "BullMQ's prioritized zset",
  },
  args: {
    nowMs: "the caller's clock",
    jobId: 'the job being admitted',
    inputBytes: "the job's input size",
    submitsPerMinute: 'default',
    maxInflight: 'default',
    inputBytesPerDay: 'default',
    queueMaxDepth: 'jobs waiting deployment-wide',
    retryAfterFullMs: 'Retry-After for a full queue or a full in-flight set',
  },
  reply: AdmitReply,
  body: `${GCRA}
local nowMs = tonumber(ARG.nowMs)
local depth = redis.call('LLEN', KEY.wait) + redis.call('ZCARD', KEY.prioritized)
if depth >= tonumber(ARG.queueMaxDepth) then
  return {0, 'queueMaxDepth', tonumber(ARG.queueMaxDepth), 0, 0, tonumber(ARG.retryAfterFullMs), 0, 0}
end
local open = redis.call('SCARD', KEY.openJobs)
local maxInflight = tonumber(redis.call('HGET', KEY.overrides, 'maxInflight') or '') or tonumber(ARG.maxInflight)
if open >= maxInflight then
  return {0, 'maxInflight', maxInflight, 0, 0, tonumber(ARG.retryAfterFullMs), 0, 0}
end
local limit, throttled = limitOf('submitsPerMinute', ARG.submitsPerMinute, nowMs)
local ok, remaining, resetMs, retryMs, tat = gcra(KEY.submits, limit, 60000, 1, nowMs)
if not ok then return {0, 'submitsPerMinute', limit, 0, resetMs, retryMs, throttled, 0} end
local bytesLimit = tonumber(redis.call('HGET', KEY.overrides, 'inputBytesPerDay') or '') or tonumber(ARG.inputBytesPerDay)
local cost = math.max(1, tonumber(ARG.inputBytes))
local bok, _, bReset, bRetry, bTat = gcra(KEY.bytes, bytesLimit, 86400000, cost, nowMs)
if not bok then
  if cost > bytesLimit then bRetry = -1 end
  return {0, 'inputBytesPerDay', bytesLimit, 0, bReset, bRetry, 0, 0}
end
store(KEY.submits, tat, nowMs)
store(KEY.bytes, bTat, nowMs)
local seq = 0
if open > 0 then seq = tonumber(redis.call('HGET', KEY.state, 'seq') or '0') or 0 end
seq = math.min(seq + 1, 2097152)
redis.call('HSET', KEY.state, 'seq', seq)
redis.call('SADD', KEY.openJobs, ARG.jobId)
return {1, '', limit, remaining, resetMs, 0, throttled, seq}
`,
});
