/** The Lua scripts of the Redis audit store: each one atomic multi-key write. */
import { LuaScript } from './lua-script.js';

/**
 * Optimistic append: the client built the record from the head it last saw; the write
 * happens only if the head is still that one (Redis Lua has no sha256, so the hash cannot
 * be computed here). Fairness: a client that loses a race takes the claim, and while a claim
 * is held only its holder may append. Without it, the winner of one round (already holding
 * the new head) wins the next ones too and a busy process starves the others.
 *
 * KEYS[1] head            string, canonical JSON {seq, hash, time}
 * KEYS[2] records         hash seq → record JSON
 * KEYS[3] time index      zset member seq, score time ms
 * KEYS[4] index registry  set of index zset names
 * KEYS[5] claim           string: id of the client that lost the last race (expires)
 * KEYS[6..] index zsets   action, actor, target (member seq, score seq)
 * ARGV[1] expected head JSON ('' = empty chain)
 * ARGV[2] seq of the new record
 * ARGV[3] record JSON
 * ARGV[4] new head JSON
 * ARGV[5] record time in ms
 * ARGV[6] client id
 * ARGV[7] claim lifetime in ms (bounds the wait if the claimant dies)
 * Returns {1, newHead} on success; {0, currentHead} on a lost race (the claim is now ours);
 * {3, currentHead} when another client holds the claim (wait, then retry); {2, currentHead}
 * when the seq is already taken (head rewound behind stored records: never overwrite).
 */
export const APPEND_SCRIPT = new LuaScript(`
local current = redis.call('GET', KEYS[1]) or ''
local claim = redis.call('GET', KEYS[5])
if claim and claim ~= ARGV[6] then return {3, current} end
if current ~= ARGV[1] then
  redis.call('SET', KEYS[5], ARGV[6], 'PX', ARGV[7])
  return {0, current}
end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return {2, current} end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
for i = 6, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[2])
  redis.call('SADD', KEYS[4], KEYS[i])
end
if claim then redis.call('DEL', KEYS[5]) end
return {1, ARGV[4]}
`);

/**
 * Retention: removes records firstSeq..lastSeq (already exported to a segment) and moves
 * the base to the last of them, only if the base is still the expected one.
 *
 * KEYS[1] base         string, canonical JSON {seq, hash, time} ('' / absent = nothing trimmed)
 * KEYS[2] records      hash seq → record JSON
 * KEYS[3] time index   zset member seq
 * KEYS[4] checkpoints  zset of checkpoint copies, score seq
 * ARGV[1] expected base JSON ('' = none)
 * ARGV[2] new base JSON
 * ARGV[3] first seq, ARGV[4] last seq
 * Returns 1 when trimmed, 0 when the base moved (another trimmer ran).
 */
export const TRIM_SCRIPT = new LuaScript(`
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
for s = tonumber(ARGV[3]), tonumber(ARGV[4]) do
  redis.call('HDEL', KEYS[2], tostring(s))
  redis.call('ZREM', KEYS[3], tostring(s))
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[4])
redis.call('SET', KEYS[1], ARGV[2])
return 1
`);

/**
 * Prunes index zsets after a trim; an emptied index leaves the registry in the same step,
 * so a concurrent append (which re-adds both) cannot be lost.
 *
 * KEYS[1] index registry set
 * KEYS[2..] index zsets
 * ARGV[1] last trimmed seq
 */
export const PRUNE_INDEXES_SCRIPT = new LuaScript(`
for i = 2, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[i]) == 0 then redis.call('SREM', KEYS[1], KEYS[i]) end
end
return #KEYS - 1
`);
