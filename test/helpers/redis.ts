/** Real Redis for tests: each suite gets a unique key prefix and deletes its keys afterwards. */
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';

export const TEST_REDIS_URL = process.env['AIRLOCK_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(name: string): string {
  return `test-${name}-${randomBytes(4).toString('hex')}`;
}

export function testRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * Every key under `pattern` (a SCAN MATCH pattern) and every value it holds, as one string:
 * what a test searches for secrets that must never be stored.
 */
export async function dumpKeys(redis: Redis, pattern: string): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat());
      else if (type === 'zset') parts.push(...(await redis.zrange(key, '0', '-1')));
      else if (type === 'set') parts.push(...(await redis.smembers(key)));
      else if (type === 'list') parts.push(...(await redis.lrange(key, '0', '-1')));
      else if (type !== 'none') parts.push(`<unchecked ${type}>`);
    }
  } while (cursor !== '0');
  return parts.join('\n');
}
