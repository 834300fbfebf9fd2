/** A short named lock: SET NX PX with a random holder token, released only by its holder. */
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { LuaScript } from './lua-script.js';
import { redisCall } from './redis-errors.js';

export const RELEASE_LOCK_SCRIPT = new LuaScript({
  name: 'lock-release',
  doc: "Deletes the lock only while the token still holds it (an expired lock may be someone else's now). Returns 1 when released.",
  keys: { lock: 'string: the holder token (expires)' },
  args: { token: 'the holder token' },
  reply: z.number(),
  body: `if redis.call('GET', KEY.lock) == ARG.token then return redis.call('DEL', KEY.lock) end
return 0`,
});

/** The holder token when this call took the lock; undefined when another holds it. */
export async function tryLock(redis: Redis, key: string, ttlMs: number): Promise<string | undefined> {
  const token = randomBytes(12).toString('hex');
  const reply = await redisCall(`take the lock ${key}`, () => redis.set(key, token, 'PX', ttlMs, 'NX'));
  return reply === 'OK' ? token : undefined;
}

export async function releaseLock(redis: Redis, key: string, token: string): Promise<boolean> {
  return (await RELEASE_LOCK_SCRIPT.run(redis, { lock: key }, { token })) === 1;
}
