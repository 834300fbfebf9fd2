/** Audit fixtures for suites that start the service: private audit files, and a raw dump of the audit keys. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { dumpKeys } from './redis.js';

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

/** Every key under `{prefix}:audit:` and every value it holds, as one string. */
export function dumpAuditKeys(redis: Redis, prefix: string): Promise<string> {
  return dumpKeys(redis, `{${prefix}}:audit:*`);
}
