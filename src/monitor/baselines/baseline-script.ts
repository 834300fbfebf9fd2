/**
 * One Lua update per observation of a key's metric: the hour's count, and when the hour (or the
 * day) turns, the finished count folded into the EWMA mean and variance of its bucket (168
 * hour-of-week buckets; 7 day-of-week buckets for slow rises no single hour shows), zeros for
 * the quiet hours in between (at most a week of them). Then the count so far is compared with
 * its bucket, and the last 60 minutes (this hour so far and the previous hour's tail, pro rata)
 * against the two buckets mixed the same way (a burst across an hour's turn is not cut in two):
 * over the mean by zThreshold σ and by minExcess, once the key is past its warm-up
 * and the bucket has minSamples, and at most once per hour (day) and metric.
 * σ is at least 1 and at least the key's pooled noise at that mean: √(mean + c²·mean²), where c²
 * (cv2 for hours, dcv2 for days) is an EWMA over every bucket of the key of the squared relative
 * excess over Poisson — day-to-day swings of busy keys are multiplicative, and a bucket with two
 * samples cannot know its own variance.
 */
import { z } from 'zod';
import { LuaScript } from '../../shared/index.js';

/** Epoch hour 0 was a Thursday 00:00 UTC: +72 makes bucket 0 Monday 00:00 UTC. */
export const HOUR_OFFSET = 72;
/** Epoch day 0 was a Thursday: +3 makes bucket 0 Monday. */
export const DAY_OFFSET = 3;

/** {fired 1|0, level 'hour'|'day'|'', observed, mean, sigma, z} (numbers as strings: Lua floats). */
export const BaselineReply = z.tuple([z.number(), z.string(), z.string(), z.string(), z.string(), z.string()]);

export const BASELINE_SCRIPT = new LuaScript({
  name: 'baseline-observe',
  doc: `Adds n observations of one metric of one key at nowMs and compares the hour's and the day's
counts so far with their buckets' EWMA mean and variance.
Returns {1, level, observed, mean, sigma, z} when a deviation fires, else {0, '', ...}.`,
  keys: { state: 'hash: hour, count, day, dcount, first, alerted hour/day, and per bucket "mean,var,samples" (h<b>, d<b>)' },
  args: {
    nowMs: "the caller's clock",
    n: 'observations to add (0: only roll and read)',
    alpha: 'EWMA weight',
    zThreshold: 'σ over the mean that fires',
    warmupHours: 'hours since first seen before anything fires',
    minSamples: 'samples a bucket needs',
    minExcess: 'absolute floor of the excess over the mean',
    ttlS: 'the state expires after this long unused',
    poolAlpha: "EWMA weight of one sample in the key's pooled noise (c²)",
    cv2Prior: 'c² before any sample',
  },
  reply: BaselineReply,
  body: `
local nowMs = tonumber(ARG.nowMs)
local alpha = tonumber(ARG.alpha)
local function fold(field, x, poolField)
  local s = redis.call('HGET', KEY.state, field)
  local m, v, k = 0, 0, 0
  if s then
    local a, b, c = string.match(s, '([^,]+),([^,]+),([^,]+)')
    m, v, k = tonumber(a), tonumber(b), tonumber(c)
  end
  if k > 0 then
    local r = math.min(4, math.max(0, ((x - m) * (x - m) - m) / math.max(m * m, 1)))
    local pool = tonumber(redis.call('HGET', KEY.state, poolField) or ARG.cv2Prior)
    redis.call('HSET', KEY.state, poolField, string.format('%.6g', pool + tonumber(ARG.poolAlpha) * (r - pool)))
  end
  if k == 0 then m, v = x, 0 else
    local d = x - m
    m = m + alpha * d
    v = (1 - alpha) * (v + alpha * d * d)
  end
  redis.call('HSET', KEY.state, field, string.format('%.6g,%.6g,%d', m, v, k + 1))
end
local function roll(unitField, countField, prefix, unit, buckets, offset, poolField)
  local cur = tonumber(redis.call('HGET', KEY.state, unitField) or '')
  if cur == nil then
    redis.call('HSET', KEY.state, unitField, unit, countField, 0)
    return
  end
  if unit <= cur then return end
  local count = tonumber(redis.call('HGET', KEY.state, countField) or '0')
  local steps = math.min(unit - cur, buckets)
  local start = unit - steps
  -- the finished unit's count stays as the previous one (the sliding window's tail), when it was the last one
  redis.call('HSET', KEY.state, 'p' .. countField, (unit - cur == 1) and count or 0)
  if start == cur then fold(prefix .. ((cur + offset) % buckets), count, poolField) end
  for u = start + 1, unit - 1 do fold(prefix .. ((u + offset) % buckets), 0, poolField) end
  if start ~= cur then fold(prefix .. ((start + offset) % buckets), 0, poolField) end
  redis.call('HSET', KEY.state, unitField, unit, countField, 0)
end
local hour = math.floor(nowMs / 3600000)
local day = math.floor(nowMs / 86400000)
if not redis.call('HGET', KEY.state, 'first') then redis.call('HSET', KEY.state, 'first', hour) end
roll('hour', 'count', 'h', hour, 168, ${HOUR_OFFSET}, 'cv2')
roll('day', 'dcount', 'd', day, 7, ${DAY_OFFSET}, 'dcv2')
local n = tonumber(ARG.n)
local count = redis.call('HINCRBY', KEY.state, 'count', n)
local dcount = redis.call('HINCRBY', KEY.state, 'dcount', n)
redis.call('EXPIRE', KEY.state, tonumber(ARG.ttlS))
if n == 0 then return {0, '', '', '', '', ''} end
local first = tonumber(redis.call('HGET', KEY.state, 'first'))
if hour - first < tonumber(ARG.warmupHours) then return {0, '', '', '', '', ''} end
local function bucketOf(field)
  local s = redis.call('HGET', KEY.state, field)
  if not s then return nil end
  local a, b, c = string.match(s, '([^,]+),([^,]+),([^,]+)')
  return tonumber(a), tonumber(b), tonumber(c)
end
-- prevField/weight: a window that reaches back into the previous unit (weight: the part of it still in the window)
local function check(field, observed, alertedField, unit, poolField, prevField, weight)
  if tonumber(redis.call('HGET', KEY.state, alertedField) or '-1') == unit then return nil end
  local m, v, k = bucketOf(field)
  if not m or k < tonumber(ARG.minSamples) then return nil end
  if prevField then
    local pm, pv, pk = bucketOf(prevField)
    if not pm or pk < tonumber(ARG.minSamples) then return nil end
    m = m * (1 - weight) + pm * weight
    v = v * (1 - weight) + pv * weight
  end
  local mp = math.max(m, 0)
  local cv2 = tonumber(redis.call('HGET', KEY.state, poolField) or ARG.cv2Prior)
  local sigma = math.max(math.sqrt(v), math.sqrt(mp + cv2 * mp * mp), 1)
  local z = (observed - m) / sigma
  if z >= tonumber(ARG.zThreshold) and observed - m >= tonumber(ARG.minExcess) then
    redis.call('HSET', KEY.state, alertedField, unit)
    return {m, sigma, z}
  end
  return nil
end
local r = check('h' .. ((hour + ${HOUR_OFFSET}) % 168), count, 'alertedHour', hour, 'cv2')
if r then return {1, 'hour', tostring(count), tostring(r[1]), tostring(r[2]), tostring(r[3])} end
-- the last 60 minutes: this hour so far and the previous hour's tail (pro rata), against their buckets mixed the same way
local tail = 1 - (nowMs % 3600000) / 3600000
local window = count + tonumber(redis.call('HGET', KEY.state, 'pcount') or '0') * tail
r = check('h' .. ((hour + ${HOUR_OFFSET}) % 168), window, 'alertedHour', hour, 'cv2', 'h' .. ((hour - 1 + ${HOUR_OFFSET}) % 168), tail)
if r then return {1, 'hour', string.format('%d', math.floor(window + 0.5)), tostring(r[1]), tostring(r[2]), tostring(r[3])} end
r = check('d' .. ((day + ${DAY_OFFSET}) % 7), dcount, 'alertedDay', day, 'dcv2')
if r then return {1, 'day', tostring(dcount), tostring(r[1]), tostring(r[2]), tostring(r[3])} end
return {0, '', '', '', '', ''}
`,
});
