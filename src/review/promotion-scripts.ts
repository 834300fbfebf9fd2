/**
 * Lua for promotions: every stage change is one script, so a decision, the sweeper's expiry
 * and an apply can race without a lost or double transition. Each change appends a history
 * entry and an outbox entry (audit record + notification) in the same script: the change and
 * the promise to record it are one atomic write.
 *
 * Every key a script touches is declared, except the other promotions a new request
 * supersedes (their hash and history are named from `promoPrefix`, found in the lineage set):
 * all are under the deployment's hash tag, so each script stays within one Cluster slot.
 */
import { z } from 'zod';
import { LuaScript } from '../shared/index.js';

/** The keys every state change touches (move()). */
const MOVE_KEYS = {
  promo: 'hash: the promotion (doc, state and bookkeeping)',
  history: "list: the promotion's history entries",
  outbox: 'list: changes still to be audited and announced',
  pending: 'zset: pending promotions by deadline',
  escalate: 'zset: pending promotions by escalation time',
  approved: 'set: approved promotions waiting to be applied',
} as const;

/** move(P, H, id, cur, to, at, actorJson, reason, detailsJson): the one way a state changes (P its hash, H its history). */
const MOVE = `
local function move(P, H, id, cur, to, at, actor, reason, details)
  local n = redis.call('HINCRBY', P, 'n', 1)
  redis.call('HSET', P, 'state', to, 'updatedAt', at)
  local entry = {n = n, at = at, from = cur or cjson.null, to = to, actor = cjson.decode(actor), reason = reason}
  if details ~= '' then entry.details = cjson.decode(details) end
  redis.call('RPUSH', H, cjson.encode(entry))
  redis.call('RPUSH', KEY.outbox, cjson.encode({promotionId = id, jobId = redis.call('HGET', P, 'jobId'), target = redis.call('HGET', P, 'target'), entry = entry}))
  if cur == 'pending_review' and to ~= 'pending_review' then
    redis.call('ZREM', KEY.pending, id)
    redis.call('ZREM', KEY.escalate, id)
  end
  if to == 'approved' then redis.call('SADD', KEY.approved, id)
  elseif cur == 'approved' then redis.call('SREM', KEY.approved, id) end
  return n
end
`;

const ACTOR_ARGS = { at: 'ISO time of the change', actor: 'actor JSON', reason: 'why, for the history' } as const;

export const CREATE_SCRIPT = new LuaScript({
  name: 'promotion-create',
  doc: `Supersedes the lineage's pending requests for the target, then creates this one in its initial state.
Returns 1 when created, 0 when the id exists.`,
  keys: { ...MOVE_KEYS, all: 'zset: every promotion by creation time', lineage: 'set: the promotions of this lineage and target' },
  args: {
    promoPrefix: "name of a promotion's hash, less the id (for the superseded ones)",
    id: 'the new promotion id',
    jobId: 'its job',
    target: 'its target',
    doc: 'the facts fixed at request time, JSON',
    initial: 'pending_review or approved',
    createdMs: 'creation time, ms',
    deadlineMs: 'review deadline, ms',
    escalateMs: "escalation time, ms ('' none)",
    ...ACTOR_ARGS,
  },
  reply: z.number(),
  body: `${MOVE}
if redis.call('EXISTS', KEY.promo) == 1 then return 0 end
for _, old in ipairs(redis.call('SMEMBERS', KEY.lineage)) do
  local P = ARG.promoPrefix .. old
  if redis.call('HGET', P, 'state') == 'pending_review' then
    move(P, P .. ':history', old, 'pending_review', 'superseded', ARG.at, ARG.actor, 'superseded by ' .. ARG.id, cjson.encode({supersededBy = ARG.id}))
  end
end
redis.call('HSET', KEY.promo, 'id', ARG.id, 'jobId', ARG.jobId, 'target', ARG.target, 'doc', ARG.doc, 'createdMs', ARG.createdMs, 'deadlineMs', ARG.deadlineMs, 'escalateMs', ARG.escalateMs, 'n', 0)
redis.call('SADD', KEY.lineage, ARG.id)
redis.call('ZADD', KEY.all, ARG.createdMs, ARG.id)
if ARG.initial == 'pending_review' then
  redis.call('ZADD', KEY.pending, ARG.deadlineMs, ARG.id)
  if ARG.escalateMs ~= '' then redis.call('ZADD', KEY.escalate, ARG.escalateMs, ARG.id) end
end
move(KEY.promo, KEY.history, ARG.id, nil, ARG.initial, ARG.at, ARG.actor, ARG.reason, '')
return 1
`,
});

export const TRANSITION_SCRIPT = new LuaScript({
  name: 'promotion-transition',
  doc: `Compare-and-set of a promotion's state, with fields to set.
Returns {1, to} when applied, {0, current state or ''} when not.`,
  keys: MOVE_KEYS,
  args: {
    id: 'the promotion id',
    from: 'allowed current states, comma-separated',
    to: 'the new state',
    ...ACTOR_ARGS,
    details: "details JSON for the history ('' none)",
    claim: "'' no check; else the promotion's apply claim must equal it",
    dueAtMs: "'' no check; else only while deadlineMs <= dueAtMs (expiry)",
  },
  restArgs: 'field/value pairs to set',
  reply: z.tuple([z.number(), z.string()]),
  body: `${MOVE}
local cur = redis.call('HGET', KEY.promo, 'state')
if not cur then return {0, ''} end
local ok = false
for s in string.gmatch(ARG.from, '[^,]+') do if s == cur then ok = true end end
if not ok then return {0, cur} end
if ARG.claim ~= '' and redis.call('HGET', KEY.promo, 'claim') ~= ARG.claim then return {0, cur} end
if ARG.dueAtMs ~= '' and tonumber(redis.call('HGET', KEY.promo, 'deadlineMs')) > tonumber(ARG.dueAtMs) then return {0, cur} end
for i = ARG_REST, #ARGV, 2 do redis.call('HSET', KEY.promo, ARGV[i], ARGV[i + 1]) end
move(KEY.promo, KEY.history, ARG.id, cur, ARG.to, ARG.at, ARG.actor, ARG.reason, ARG.details)
return {1, ARG.to}
`,
});

export const DECIDE_SCRIPT = new LuaScript({
  name: 'promotion-decide',
  doc: `Records one decision per principal (HSETNX); one rejection rejects; quorum counts distinct
principals and, when requireGroup is set, needs one approver of that group. A decision after
the deadline expires the promotion instead.
Returns {outcome, state, approvals}: outcome is recorded | approved | rejected | expired | already_decided | not_pending.`,
  keys: { ...MOVE_KEYS, decisions: 'hash: principal -> decision JSON', decisionOrder: 'list: principals in the order they decided' },
  args: {
    id: 'the promotion id',
    principal: 'who decides',
    decision: 'the decision JSON',
    kind: 'approve | reject',
    nowMs: 'now, ms',
    ...ACTOR_ARGS,
    approvalsNeeded: 'distinct approvals for quorum',
    requireGroup: "a group one approver must be in ('' none)",
  },
  reply: z.tuple([z.enum(['recorded', 'approved', 'rejected', 'expired', 'already_decided', 'not_pending']), z.string(), z.number()]),
  body: `${MOVE}
local cur = redis.call('HGET', KEY.promo, 'state')
if not cur then return {'not_pending', '', 0} end
if cur ~= 'pending_review' then return {'not_pending', cur, 0} end
if tonumber(redis.call('HGET', KEY.promo, 'deadlineMs')) <= tonumber(ARG.nowMs) then
  move(KEY.promo, KEY.history, ARG.id, cur, 'expired', ARG.at, cjson.encode({system = 'review-timeout'}), 'no quorum before the review deadline', '')
  return {'expired', 'expired', 0}
end
if redis.call('HSETNX', KEY.decisions, ARG.principal, ARG.decision) == 0 then return {'already_decided', cur, 0} end
redis.call('RPUSH', KEY.decisionOrder, ARG.principal)
if ARG.kind == 'reject' then
  move(KEY.promo, KEY.history, ARG.id, cur, 'rejected', ARG.at, ARG.actor, ARG.reason, cjson.encode({decision = 'reject'}))
  return {'rejected', 'rejected', 0}
end
local approvals, required = 0, false
for _, raw in ipairs(redis.call('HVALS', KEY.decisions)) do
  local d = cjson.decode(raw)
  if d.decision == 'approve' then
    approvals = approvals + 1
    if ARG.requireGroup ~= '' then for _, g in ipairs(d.groups) do if g == ARG.requireGroup then required = true end end end
  end
end
if approvals >= tonumber(ARG.approvalsNeeded) and (ARG.requireGroup == '' or required) then
  move(KEY.promo, KEY.history, ARG.id, cur, 'approved', ARG.at, ARG.actor, 'quorum reached', cjson.encode({approvals = approvals}))
  return {'approved', 'approved', approvals}
end
return {'recorded', cur, approvals}
`,
});

export const CLAIM_SCRIPT = new LuaScript({
  name: 'promotion-claim',
  doc: `Claims an approved promotion for applying: only when nobody holds it, or the holder's lease
ran out (a crashed applier). Returns 1 when claimed.`,
  keys: { promo: MOVE_KEYS.promo },
  args: { token: "the applier's claim token", nowMs: 'now, ms', leaseMs: 'how long the claim holds' },
  reply: z.number(),
  body: `
if redis.call('HGET', KEY.promo, 'state') ~= 'approved' then return 0 end
local untilMs = tonumber(redis.call('HGET', KEY.promo, 'claimUntil') or '0')
if redis.call('HEXISTS', KEY.promo, 'claim') == 1 and untilMs > tonumber(ARG.nowMs) then return 0 end
redis.call('HSET', KEY.promo, 'claim', ARG.token, 'claimUntil', tonumber(ARG.nowMs) + tonumber(ARG.leaseMs))
return 1
`,
});

export const ESCALATE_SCRIPT = new LuaScript({
  name: 'promotion-escalate',
  doc: `Escalates a pending promotion once, when due: a history entry (state unchanged) and an outbox
entry that becomes the audit record and the webhook. Returns 1 when escalated.`,
  keys: MOVE_KEYS,
  args: { id: 'the promotion id', nowMs: 'now, ms', at: 'ISO time of the escalation', details: 'details JSON for the history' },
  reply: z.number(),
  body: `${MOVE}
if redis.call('HGET', KEY.promo, 'state') ~= 'pending_review' or redis.call('HEXISTS', KEY.promo, 'escalatedAt') == 1 then
  redis.call('ZREM', KEY.escalate, ARG.id)
  return 0
end
local due = redis.call('HGET', KEY.promo, 'escalateMs')
if due == '' or tonumber(due) > tonumber(ARG.nowMs) then return 0 end
redis.call('ZREM', KEY.escalate, ARG.id)
redis.call('HSET', KEY.promo, 'escalatedAt', ARG.at)
move(KEY.promo, KEY.history, ARG.id, 'pending_review', 'pending_review', ARG.at, cjson.encode({system = 'review-escalation'}), 'escalated: no quorum in time', ARG.details)
return 1
`,
});

export const WITHDRAW_DECISION_SCRIPT = new LuaScript({
  name: 'promotion-withdraw-decision',
  doc: `Takes back a decision whose audit record could not be written, while the promotion is still
pending_review (a decision that moved it is recorded by that move). Returns 1 when withdrawn.`,
  keys: { promo: MOVE_KEYS.promo, decisions: 'hash: principal -> decision JSON', decisionOrder: 'list: principals in the order they decided' },
  args: { principal: 'who decided' },
  reply: z.number(),
  body: `
if redis.call('HGET', KEY.promo, 'state') ~= 'pending_review' then return 0 end
if redis.call('HDEL', KEY.decisions, ARG.principal) == 0 then return 0 end
redis.call('LREM', KEY.decisionOrder, 0, ARG.principal)
return 1
`,
});
