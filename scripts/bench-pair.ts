/**
 * Two API instances in one process on one Redis prefix, one as deployed and one built without a
 * part (a Config flag no variable sets), for benchmarks that measure what that part costs
 * (bench-audit.ts, bench-limits.ts). API role only: needs Redis, not Docker.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config.js';
import { openAirlock, type Airlock } from '../src/root/index.js';
import { RateLimiter } from '../src/monitor/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { deletePrefix } from '../test/helpers/redis.js';

export interface BenchPair {
  readonly config: Config;
  readonly prefix: string;
  /** As deployed. */
  readonly deployed: Airlock;
  /** Built without the part. */
  readonly without: Airlock;
  readonly redis: Redis;
  close(): Promise<void>;
}

export async function openBenchPair(name: string, without: (http: Config['http']) => Config['http'], env: Record<string, string> = {}): Promise<BenchPair> {
  const prefix = `bench-${name}-${randomBytes(4).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), `airlock-bench-${name}-`));
  const config = loadConfig({
    ...process.env,
    AIRLOCK_ROLE: 'api',
    AIRLOCK_REDIS_PREFIX: prefix,
    AIRLOCK_PORT: '0',
    AIRLOCK_LOG_LEVEL: 'silent',
    AIRLOCK_AUDIT_SIGNING_KEY_FILE: join(dir, 'signing-key.pem'),
    AIRLOCK_AUDIT_CHECKPOINT_FILE: join(dir, 'checkpoints.jsonl'),
    AIRLOCK_AUDIT_SEGMENTS_DIR: join(dir, 'segments'),
    AIRLOCK_BOOTSTRAP_ADMIN: 'false',
    ...env,
  });
  const logger = createLogger({ level: 'silent' });
  const deployed = await openAirlock(config, { logger });
  const plain = await openAirlock({ ...config, http: without(config.http) }, { logger });
  const redis = new Redis(config.redis.url);
  return {
    config,
    prefix,
    deployed,
    without: plain,
    redis,
    async close() {
      await deployed.close();
      await plain.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const baseOf = (a: Airlock): string => a.url!.replace('0.0.0.0', '127.0.0.1');
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Requests/s of `n` calls of `one` with `concurrency` in flight, each answered `status`. */
export async function rateOf(n: number, concurrency: number, one: () => Promise<Response>, status: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) {
        const r = await one();
        if (r.status !== status) throw new Error(`answered ${r.status}: ${await r.text()}`);
        await r.arrayBuffer();
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/** Submits one shell job through `a` and returns its id (the job the GET rounds read). */
export async function firstJob(a: Airlock, key: string): Promise<string> {
  const res = await fetch(`${baseOf(a)}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] }),
  });
  if (res.status !== 202) throw new Error(`the first job was not accepted: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/**
 * An agent key whose limits are far above what a benchmark sends: it measures what a request
 * costs, not refusals (both instances share the prefix, so the key's budget too).
 */
export async function benchKey(pair: BenchPair): Promise<string> {
  const key = await pair.deployed.keys.create({ role: 'agent', name: 'bench' });
  await new RateLimiter({ redis: pair.redis, prefix: pair.prefix, options: pair.config.limits.options, clock: systemClock }).setOverrides(key.id, {
    requestsPerMinute: 1_000_000,
    submitsPerMinute: 1_000_000,
    maxInflight: 100_000,
    inputBytesPerDay: 2 ** 40,
  });
  return key.key;
}
