/**
 * The atomic half of artifact garbage collection, in Redis: a writer pins the digests it is about
 * to store before it stores them (a pin lasts PIN_TTL_MS: longer than any run takes from storing
 * its artifacts to recording its result), and the collector condemns a digest before it deletes
 * the blob. Both are one script each on the same keys, so they exclude each other: a pinned
 * digest cannot be condemned, and a condemned one cannot be pinned (the writer waits until the
 * deletion is over, then stores the blob again). A condemnation lasts CONDEMN_TTL_MS at most (a
 * collector that died mid-delete does not block writers for ever).
 *
 * Keys, under the deployment's hash tag: `artifacts:pins` (zset digest → pinned until, ms) and
 * `artifacts:condemned` (zset digest → condemned until, ms).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { AppError, type Clock } from '../shared/index.js';
import { keyRoot, LuaScript, redisCall } from '../shared/redis/index.js';

export const PIN_TTL_MS = 60 * 60 * 1000;
export const CONDEMN_TTL_MS = 60 * 1000;
/** How long a writer waits for a deletion in progress before it gives up (ARTIFACT_STORE_UNAVAILABLE, retryable). */
const PIN_WAIT_MS = CONDEMN_TTL_MS + 5000;

const PIN_SCRIPT = new LuaScript({
  name: 'artifact-pin',
  doc: 'Pins each digest until ARG.untilMs unless it is being deleted; returns the digests being deleted (not pinned).',
  keys: { pins: 'zset digest -> pinned until (ms)', condemned: 'zset digest -> condemned until (ms)' },
  args: { nowMs: 'now (ms)', untilMs: 'pinned until (ms)' },
  restArgs: 'the digests',
  reply: z.array(z.string()),
  body: `
local busy = {}
for i = ARG_REST, #ARGV do
  local until_ms = redis.call('ZSCORE', KEY.condemned, ARGV[i])
  if until_ms and tonumber(until_ms) > tonumber(ARG.nowMs) then
    busy[#busy + 1] = ARGV[i]
  else
    redis.call('ZADD', KEY.pins, 'GT', ARG.untilMs, ARGV[i])
  end
end
return busy`,
});

const CONDEMN_SCRIPT = new LuaScript({
  name: 'artifact-condemn',
  doc: 'Condemns the digest until ARG.untilMs unless a pin holds it; returns 1 when condemned (the caller may delete the blob), 0 when pinned.',
  keys: { pins: 'zset digest -> pinned until (ms)', condemned: 'zset digest -> condemned until (ms)' },
  args: { digest: 'the digest', nowMs: 'now (ms)', untilMs: 'condemned until (ms)' },
  reply: z.number(),
  body: `
local pinned = redis.call('ZSCORE', KEY.pins, ARG.digest)
if pinned and tonumber(pinned) > tonumber(ARG.nowMs) then return 0 end
redis.call('ZADD', KEY.condemned, ARG.untilMs, ARG.digest)
return 1`,
});

export class ArtifactPins {
  private readonly keys: { pins: string; condemned: string };

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly clock: Clock,
  ) {
    const root = keyRoot(prefix);
    this.keys = { pins: `${root}:artifacts:pins`, condemned: `${root}:artifacts:condemned` };
  }

  /** Pins the digests (waiting out a deletion in progress of any of them); once this returns, none of them is deleted before the pin ends. */
  async pin(digests: readonly string[]): Promise<void> {
    let left = [...new Set(digests)];
    const deadline = this.clock.now() + PIN_WAIT_MS;
    while (left.length > 0) {
      const now = this.clock.now();
      left = await PIN_SCRIPT.run(this.redis, this.keys, { nowMs: now, untilMs: now + PIN_TTL_MS }, { args: left });
      if (left.length === 0) return;
      if (this.clock.now() > deadline) throw new AppError('ARTIFACT_STORE_UNAVAILABLE', `artifact ${left[0]} stayed condemned by the garbage collector`, { retryable: true });
      await this.clock.sleep(50);
    }
  }

  /** True when the digest is now condemned (no pin holds it): delete the blob, then `release`. */
  async condemn(digest: string): Promise<boolean> {
    const now = this.clock.now();
    return (await CONDEMN_SCRIPT.run(this.redis, this.keys, { digest, nowMs: now, untilMs: now + CONDEMN_TTL_MS })) === 1;
  }

  /** The deletion is over: writers may pin (and store) the digest again. */
  async release(digest: string): Promise<void> {
    await redisCall('release a condemned artifact', () => this.redis.zrem(this.keys.condemned, digest));
  }

  /** Digests pinned now (a live reference: the writer has not recorded its result yet). */
  async pinned(): Promise<Set<string>> {
    return new Set(await redisCall('read artifact pins', () => this.redis.zrangebyscore(this.keys.pins, this.clock.now(), '+inf')));
  }

  /** Forgets pins and condemnations that have ended. */
  async prune(): Promise<void> {
    const now = this.clock.now();
    await redisCall('prune artifact pins', () => this.redis.zremrangebyscore(this.keys.pins, '-inf', now));
    await redisCall('prune artifact condemnations', () => this.redis.zremrangebyscore(this.keys.condemned, '-inf', now));
  }
}
