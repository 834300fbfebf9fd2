/** Audit fixtures for suites that start the service: private audit files, and a raw dump of the audit keys. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

/** Audit files (signing key, checkpoints, segments) in a fresh temp dir; the suite removes `dir`. */
export async function auditFiles(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-'));
  return {
    dir,
    env: {
      AIRLOCK_AUDIT_SIGNING_KEY_FILE: join(dir, 'signing-key.pem'),
      AIRLOCK_AUDIT_CHECKPOINT_FILE: join(dir, 'checkpoints.jsonl'),
      AIRLOCK_AUDIT_SEGMENTS_DIR: join(dir, 'segments'),
    },
  };
}

/** Every key under `${prefix}:audit:` and every value it holds, as one string. */
export async function dumpAuditKeys(redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:audit:*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat());
      else if (type === 'zset') parts.push(...(await redis.zrange(key, '0', '-1')));
      else if (type === 'set') parts.push(...(await redis.smembers(key)));
      else if (type === 'list') parts.push(...(await redis.lrange(key, 0, -1)));
      else parts.push(`<${type}>`);
    }
  } while (cursor !== '0');
  return parts.join('\n');
}
