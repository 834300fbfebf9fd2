/**
 * Worker heartbeats in Redis. A live worker refreshes its key; the reaper treats containers
 * labelled with a worker whose key expired as orphans. The API's /readyz reads them to learn
 * whether some worker reaches a Docker engine — without a Docker socket of its own.
 * Keys: `{prefix}:worker:<workerId>` (JSON beat, expires) and `{prefix}:images` (hash).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { PoolStateSchema } from '../sandbox/index.js';
import { ISOLATION_TIERS, type IsolationTier } from '../profiles/index.js';
import { AppError, keyRoot, parseStoredJson, redisCall } from '../shared/index.js';

const WorkerBeatSchema = z.object({
  workerId: z.string(),
  startedAt: z.string(),
  at: z.string(),
  engineOk: z.boolean(),
  /** The worker's warm pools as of this beat (absent: no pool). */
  pool: z.record(z.string(), PoolStateSchema).optional(),
  /** The isolation tiers its engine runs (absent: a worker from before tiers, the plain one only). */
  isolation: z.array(z.enum(ISOLATION_TIERS)).readonly().optional(),
});
export type WorkerBeat = Readonly<z.infer<typeof WorkerBeatSchema>>;

export class WorkerRegistry {
  private readonly root: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly ttlMs: number,
  ) {
    this.root = keyRoot(prefix);
  }

  private key(workerId: string): string {
    return `${this.root}:worker:${workerId}`;
  }
  private get imagesKey(): string {
    return `${this.root}:images`;
  }

  async beat(b: WorkerBeat): Promise<void> {
    await redisCall('record a worker heartbeat', () => this.redis.set(this.key(b.workerId), JSON.stringify(b), 'PX', this.ttlMs));
  }

  /** Image name → ID this deployment's workers run (the API has no Docker to ask). */
  async publishImages(images: ReadonlyMap<string, string>): Promise<void> {
    if (images.size > 0) await redisCall('publish the worker images', () => this.redis.hset(this.imagesKey, Object.fromEntries(images)));
  }

  async images(): Promise<Map<string, string>> {
    return new Map(Object.entries(await redisCall('read the worker images', () => this.redis.hgetall(this.imagesKey))));
  }

  async remove(workerId: string): Promise<void> {
    await redisCall('remove a worker heartbeat', () => this.redis.del(this.key(workerId)));
  }

  async isAlive(workerId: string): Promise<boolean> {
    return (await redisCall('read a worker heartbeat', () => this.redis.exists(this.key(workerId)))) === 1;
  }

  /** The isolation tiers some live worker with a reachable engine runs. */
  async isolations(): Promise<Set<IsolationTier>> {
    return new Set((await this.live()).flatMap((w) => (w.engineOk ? (w.isolation ?? ['container']) : [])));
  }

  /**
   * Refuses a job on a tier no live worker runs (ISOLATION_UNAVAILABLE, 503): it is never queued
   * for a weaker tier, nor for a tier nobody would run (setup says why gVisor is unavailable).
   */
  async assertServes(tier: IsolationTier, profile: string): Promise<void> {
    if ((await this.isolations()).has(tier)) return;
    throw new AppError('ISOLATION_UNAVAILABLE', `profile ${profile} runs on the ${tier} isolation tier, which no live worker's engine runs (npm run setup says why)`, {
      details: { isolation: tier, profile },
    });
  }

  async live(): Promise<WorkerBeat[]> {
    const out: WorkerBeat[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redisCall('list worker heartbeats', () => this.redis.scan(cursor, 'MATCH', `${this.root}:worker:*`, 'COUNT', 200));
      cursor = next;
      if (keys.length === 0) continue;
      const beats = await redisCall('read worker heartbeats', () => this.redis.mget(...keys));
      beats.forEach((v, i) => {
        if (v !== null) out.push(parseStoredJson(WorkerBeatSchema, v, `heartbeat ${keys[i] ?? ''}`));
      });
    } while (cursor !== '0');
    return out;
  }
}
