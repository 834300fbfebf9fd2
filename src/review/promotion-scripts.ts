/**
 * Lua for promotions: every stage change is one script, so a decision, the sweeper's expiry
 * and an apply can race without a lost or double transition. Each change appends a history
 * entry and an outbox entry (audit record + notification) in the same script: the change and
 * the promise to record it are one atomic write. Other promotions' keys (supersede) are
 * derived from the prefix: single-node Redis, like the rest of Airlock's keys.
 */

/** move(prefix, id, cur, to, at, actorJson, reason, detailsJson): the one way a state changes. */
const MOVE = `
local function pkey(prefix, id) return prefix .. ':promo:' .. id end
local function move(prefix, id, cur, to, at, actor, reason, details)
  local P = pkey(prefix, id)
  local n = redis.call('HINCRBY', P, 'n', 1)
  redis.call('HSET', P, 'state', to, 'updatedAt', at)
  local entry = {n = n, at = at, from = cur or cjson.null, to = to, actor = cjson.decode(actor), reason = reason}
  if details ~= '' then entry.details = cjson.decode(details) end
  redis.call('RPUSH', P .. ':history', cjson.encode(entry))
  redis.call('RPUSH', prefix .. ':promos:outbox', cjson.encode({promotionId = id, jobId = redis.call('HGET', P, 'jobId'), target = redis.call('HGET', P, 'target'), entry = entry}))
  if cur == 'pending_review' and to ~= 'pending_review' then
    redis.call('ZREM', prefix .. ':promos:pending', id)
    redis.call('ZREM', prefix .. ':promos:escalate', id)
  end
  if to == 'approved' then redis.call('SADD', prefix .. ':promos:approved', id)
  elseif cur == 'approved' then redis.call('SREM', prefix .. ':promos:approved', id) end
  return n
end
`;

/**
 * ARGV: prefix, id, jobId, target, lineageKey, docJson, initialState, createdMs, deadlineMs,
 * escalateMs ('' none), at, actorJson, reason
 * Supersedes the lineage's pending requests for the target, then creates this one.
 */
export const CREATE_LUA = `${MOVE}
local prefix, id = ARGV[1], ARGV[2]
local P = pkey(prefix, id)
if redis.call('EXISTS', P) == 1 then return 0 end
local lineage = prefix .. ':promos:lineage:' .. ARGV[5]
for _, old in ipairs(redis.call('SMEMBERS', lineage)) do
  if redis.call('HGET', pkey(prefix, old), 'state') == 'pending_review' then
    move(prefix, old, 'pending_review', 'superseded', ARGV[11], ARGV[12], 'superseded by ' .. id, cjson.encode({supersededBy = id}))
  end
end
redis.call('HSET', P, 'id', id, 'jobId', ARGV[3], 'target', ARGV[4], 'doc', ARGV[6], 'createdMs', ARGV[8], 'deadlineMs', ARGV[9], 'escalateMs', ARGV[10], 'n', 0)
redis.call('SADD', lineage, id)
redis.call('ZADD', prefix .. ':promos', ARGV[8], id)
if ARGV[7] == 'pending_review' then
  redis.call('ZADD', prefix .. ':promos:pending', ARGV[9], id)
  if ARGV[10] ~= '' then redis.call('ZADD', prefix .. ':promos:escalate', ARGV[10], id) end
end
move(prefix, id, nil, ARGV[7], ARGV[11], ARGV[12], ARGV[13], '')
return 1
`;

/**
 * ARGV: prefix, id, allowed current states (comma-separated), to, at, actorJson, reason,
 * detailsJson ('' none), claim ('' no check: else the promotion's claim must equal it),
 * nowMs ('' no check: else only while deadlineMs <= nowMs, for expiry), then field/value pairs.
 * Returns {1, to} when applied, {0, current state or ''} when not.
 */
export const TRANSITION_LUA = `${MOVE}
local prefix, id = ARGV[1], ARGV[2]
local P = pkey(prefix, id)
local cur = redis.call('HGET', P, 'state')
if not cur then return {0, ''} end
local ok = false
for s in string.gmatch(ARGV[3], '[^,]+') do if s == cur then ok = true end end
if not ok then return {0, cur} end
if ARGV[9] ~= '' and redis.call('HGET', P, 'claim') ~= ARGV[9] then return {0, cur} end
if ARGV[10] ~= '' and tonumber(redis.call('HGET', P, 'deadlineMs')) > tonumber(ARGV[10]) then return {0, cur} end
for i = 11, #ARGV, 2 do redis.call('HSET', P, ARGV[i], ARGV[i + 1]) end
move(prefix, id, cur, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return {1, ARGV[4]}
`;

/**
 * ARGV: prefix, id, principal, decisionJson, kind (approve|reject), nowMs, at, actorJson,
 * reason, approvalsNeeded, requireGroup ('' none)
 * Returns {outcome, state, approvals}: outcome is recorded | approved | rejected | expired |
 * already_decided | not_pending. One decision per principal (HSETNX); one rejection rejects;
 * quorum counts distinct principals and, when set, needs one approver of requireGroup.
 */
export const DECIDE_LUA = `${MOVE}
local prefix, id = ARGV[1], ARGV[2]
local P = pkey(prefix, id)
local cur = redis.call('HGET', P, 'state')
if not cur then return {'not_pending', '', 0} end
if cur ~= 'pending_review' then return {'not_pending', cur, 0} end
if tonumber(redis.call('HGET', P, 'deadlineMs')) <= tonumber(ARGV[6]) then
  move(prefix, id, cur, 'expired', ARGV[7], cjson.encode({system = 'review-timeout'}), 'no quorum before the review deadline', '')
  return {'expired', 'expired', 0}
end
if redis.call('HSETNX', P .. ':decisions', ARGV[3], ARGV[4]) == 0 then return {'already_decided', cur, 0} end
redis.call('RPUSH', P .. ':decision-order', ARGV[3])
if ARGV[5] == 'reject' then
  move(prefix, id, cur, 'rejected', ARGV[7], ARGV[8], ARGV[9], cjson.encode({decision = 'reject'}))
  return {'rejected', 'rejected', 0}
end
local approvals, required = 0, false
for _, raw in ipairs(redis.call('HVALS', P .. ':decisions')) do
  local d = cjson.decode(raw)
  if d.decision == 'approve' then
    approvals = approvals + 1
    if ARGV[11] ~= '' then for _, g in ipairs(d.groups) do if g == ARGV[11] then required = true end end end
  end
end
if approvals >= tonumber(ARGV[10]) and (ARGV[11] == '' or required) then
  move(prefix, id, cur, 'approved', ARGV[7], ARGV[8], 'quorum reached', cjson.encode({approvals = approvals}))
  return {'approved', 'approved', approvals}
end
return {'recorded', cur, approvals}
`;

/**
 * ARGV: prefix, id, token, nowMs, leaseMs. Claims an approved promotion for applying: only
 * when nobody holds it, or the holder's lease ran out (a crashed applier). Returns 1 when claimed.
 */
export const CLAIM_LUA = `
local P = ARGV[1] .. ':promo:' .. ARGV[2]
if redis.call('HGET', P, 'state') ~= 'approved' then return 0 end
local untilMs = tonumber(redis.call('HGET', P, 'claimUntil') or '0')
if redis.call('HEXISTS', P, 'claim') == 1 and untilMs > tonumber(ARGV[4]) then return 0 end
redis.call('HSET', P, 'claim', ARGV[3], 'claimUntil', tonumber(ARGV[4]) + tonumber(ARGV[5]))
return 1
`;

/**
 * ARGV: prefix, id, nowMs, at, detailsJson. Escalates a pending promotion once, when due:
 * a history entry (state unchanged) and an outbox entry that becomes the audit record and the webhook.
 */
export const ESCALATE_LUA = `${MOVE}
local prefix, id = ARGV[1], ARGV[2]
local P = pkey(prefix, id)
if redis.call('HGET', P, 'state') ~= 'pending_review' or redis.call('HEXISTS', P, 'escalatedAt') == 1 then
  redis.call('ZREM', prefix .. ':promos:escalate', id)
  return 0
end
local due = redis.call('HGET', P, 'escalateMs')
if due == '' or tonumber(due) > tonumber(ARGV[3]) then return 0 end
redis.call('ZREM', prefix .. ':promos:escalate', id)
redis.call('HSET', P, 'escalatedAt', ARGV[4])
move(prefix, id, 'pending_review', 'pending_review', ARGV[4], cjson.encode({system = 'review-escalation'}), 'escalated: no quorum in time', ARGV[5])
return 1
`;
