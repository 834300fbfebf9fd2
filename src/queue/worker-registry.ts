/**
 * Worker heartbeats in Redis. A live worker refreshes its key; the reaper treats containers
 * labelled with a worker whose key expired as orphans. The API's /readyz reads them to learn
 * whether some worker reaches a Docker engine — without a Docker socket of its own.
 */
import type { Redis } from 'ioredis';

export interface WorkerBeat {
  readonly workerId: string;
  readonly startedAt: string;
  readonly at: string;
  readonly engineOk: boolean;
}

export class WorkerRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  private key(workerId: string): string {
    return `${this.prefix}:worker:${workerId}`;
  }

  async beat(b: WorkerBeat): Promise<void> {
    await this.redis.set(this.key(b.workerId), JSON.stringify(b), 'PX', this.ttlMs);
  }

  /** Image name → ID this deployment's workers run (the API has no Docker to ask). */
  async publishImages(images: ReadonlyMap<string, string>): Promise<void> {
    if (images.size > 0) await this.redis.hset(`${this.prefix}:images`, Object.fromEntries(images));
  }

  async images(): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(`${this.prefix}:images`)));
  }

  async remove(workerId: string): Promise<void> {
    await this.redis.del(this.key(workerId));
  }

  async isAlive(workerId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(workerId))) === 1;
  }

  async live(): Promise<WorkerBeat[]> {
    const out: WorkerBeat[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:worker:*`, 'COUNT', 200);
      cursor = next;
      if (keys.length === 0) continue;
      for (const v of await this.redis.mget(...keys)) if (v !== null) out.push(JSON.parse(v) as WorkerBeat);
    } while (cursor !== '0');
    return out;
  }
}
