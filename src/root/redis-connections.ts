/**
 * Every Redis connection the root opens: connected through the Redis seam, owned by the start-up's
 * stack (released if a later step fails, and at shutdown in reverse order of opening), and named
 * `airlock:<prefix>:<purpose>` so `CLIENT LIST` shows whose each connection is.
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { AsyncDisposableStack } from '../shared/index.js';
import { connectRedis, type RedisEndpoint } from '../shared/redis/index.js';

/** Commands fail fast while Redis is down (no offline queue): an API answers 503 rather than hang. */
export const FAIL_FAST: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1 };
/** Blocking and subscribing connections wait for Redis to come back. */
export const WAITING: RedisOptions = { maxRetriesPerRequest: null };

export function connectionName(prefix: string, purpose: string): string {
  return `airlock:${prefix}:${purpose}`;
}

export async function openRedis(stack: AsyncDisposableStack, endpoint: RedisEndpoint, prefix: string, purpose: string, opts: RedisOptions): Promise<Redis> {
  const redis = await connectRedis(endpoint, { ...opts, connectionName: connectionName(prefix, purpose) });
  // QUIT lets queued replies arrive; it fails while Redis is away: then drop the connection rather than let it retry forever
  stack.defer(() => (opts.maxRetriesPerRequest === null ? redis.disconnect() : redis.quit().catch(() => redis.disconnect())));
  return redis;
}
