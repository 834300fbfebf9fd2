/** The Lua scripts of the Redis audit store: each one atomic multi-key write. */
import { z } from 'zod';
import { LuaScript } from '../shared/index.js';

/**
 * Optimistic append: the client built the record from the head it last saw; the write
 * happens only if the head is still that one (Redis Lua has no sha256, so the hash cannot
 * be computed here). Fairness: a client that loses a race takes the claim, and while a claim
 * is held only its holder may append. Without it, the winner of one round (already holding
 * the new head) wins the next ones too and a busy process starves the others.
 */
export const APPEND_SCRIPT = new LuaScript({
  name: 'audit-append',
  doc: `Appends a record if the head is still the expected one.
Returns {1, newHead} on success; {0, currentHead} on a lost race (the claim is now ours);
{3, currentHead} when another client holds the claim (wait, then retry); {2, currentHead}
when the seq is already taken (head rewound behind stored records: never overwrite).`,
  keys: {
    head: 'string: canonical JSON {seq, hash, time}',
    records: 'hash: seq -> record JSON',
    time: 'zset: member seq, score time ms',
    indexRegistry: 'set: names of the index zsets',
    claim: 'string: id of the client that lost the last race (expires)',
  },
  restKeys: 'index zsets of the record: action, actor, target (member seq, score seq)',
  args: {
    expected: "expected head JSON ('' = empty chain)",
    seq: 'seq of the new record',
    record: 'record JSON',
    newHead: 'new head JSON',
    timeMs: 'record time in ms',
    clientId: "the appender's id",
    claimTtlMs: 'claim lifetime in ms (bounds the wait if the claimant dies)',
  },
  reply: z.tuple([z.number(), z.string()]),
  body: `
local current = redis.call('GET', KEY.head) or ''
local claim = redis.call('GET', KEY.claim)
if claim and claim ~= ARG.clientId then return {3, current} end
if current ~= ARG.expected then
  redis.call('SET', KEY.claim, ARG.clientId, 'PX', ARG.claimTtlMs)
  return {0, current}
end
if redis.call('HEXISTS', KEY.records, ARG.seq) == 1 then return {2, current} end
redis.call('HSET', KEY.records, ARG.seq, ARG.record)
redis.call('SET', KEY.head, ARG.newHead)
redis.call('ZADD', KEY.time, ARG.timeMs, ARG.seq)
for i = KEY_REST, #KEYS do
  redis.call('ZADD', KEYS[i], ARG.seq, ARG.seq)
  redis.call('SADD', KEY.indexRegistry, KEYS[i])
end
if claim then redis.call('DEL', KEY.claim) end
return {1, ARG.newHead}
`,
});

/** Retention: removes records already exported to a segment and moves the base. */
export const TRIM_SCRIPT = new LuaScript({
  name: 'audit-trim',
  doc: `Removes records firstSeq..lastSeq and moves the base to the last of them, only if the base
is still the expected one. Returns 1 when trimmed, 0 when the base moved (another trimmer ran).`,
  keys: {
    base: "string: canonical JSON {seq, hash, time} ('' / absent = nothing trimmed)",
    records: 'hash: seq -> record JSON',
    time: 'zset: member seq',
    checkpoints: 'zset: checkpoint copies, score seq',
  },
  args: { expected: "expected base JSON ('' = none)", newBase: 'new base JSON', firstSeq: 'first seq to remove', lastSeq: 'last seq to remove' },
  reply: z.number(),
  body: `
local current = redis.call('GET', KEY.base) or ''
if current ~= ARG.expected then return 0 end
for s = tonumber(ARG.firstSeq), tonumber(ARG.lastSeq) do
  redis.call('HDEL', KEY.records, tostring(s))
  redis.call('ZREM', KEY.time, tostring(s))
end
redis.call('ZREMRANGEBYSCORE', KEY.checkpoints, '-inf', '(' .. ARG.lastSeq)
redis.call('SET', KEY.base, ARG.newBase)
return 1
`,
});

/** Prunes index zsets after a trim. */
export const PRUNE_INDEXES_SCRIPT = new LuaScript({
  name: 'audit-prune-indexes',
  doc: `Removes trimmed seqs from index zsets; an emptied index leaves the registry in the same
step, so a concurrent append (which re-adds both) cannot be lost. Returns the number of indexes.`,
  keys: { indexRegistry: 'set: names of the index zsets' },
  restKeys: 'index zsets to prune',
  args: { throughSeq: 'last trimmed seq' },
  reply: z.number(),
  body: `
for i = KEY_REST, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARG.throughSeq)
  if redis.call('ZCARD', KEYS[i]) == 0 then redis.call('SREM', KEY.indexRegistry, KEYS[i]) end
end
return #KEYS - 1
`,
});
