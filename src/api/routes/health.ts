import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { WorkerBeat, WorkerRegistry } from '../../queue/index.js';
import type { Logger } from '../../shared/index.js';
import { UNAUDITED } from '../route-audit.js';

/** Past this share of its `maxmemory`, a Redis is reported and logged as near its cap. */
export const MEMORY_ALERT_RATIO = 0.8;

export interface RedisMemory {
  readonly usedBytes: number;
  /** `maxmemory`; null when Redis has no cap (writes then fail only when the host runs out). */
  readonly maxBytes: number | null;
  readonly usedRatio: number | null;
  /** Above MEMORY_ALERT_RATIO: at the cap every write fails (`noeviction`), and with it every audited request. */
  readonly alert: boolean;
}

export interface HealthDeps {
  redis: Redis;
  /** The audit log's Redis (AIRLOCK_AUDIT_REDIS_URL); reported on its own when it is another server. */
  auditRedis: Redis;
  workers: WorkerRegistry;
  logger: Logger;
}

/**
 * /healthz: the process is up. /readyz: Redis answers and at least one live worker reports
 * a reachable Docker engine (the API itself has no Docker socket); `degraded` (still 200)
 * when a Redis is above MEMORY_ALERT_RATIO of its maxmemory, with a warning in the log. The warm
 * pools are shown per worker and summed per pool, as of each worker's last heartbeat; an empty
 * pool does not make the service unready (its jobs take the cold path).
 */
export function healthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  const alerting = new Set<string>();
  const watch = (name: string, m: RedisMemory | undefined) => {
    if (m === undefined) return;
    if (m.alert && !alerting.has(name)) {
      alerting.add(name);
      deps.logger.warn(
        { redis: name, ...m },
        `${name} Redis memory is above ${MEMORY_ALERT_RATIO * 100}% of maxmemory: at the cap every write fails (job submissions, audit records)`,
      );
    } else if (!m.alert && alerting.delete(name)) {
      deps.logger.info({ redis: name, ...m }, `${name} Redis memory is back under ${MEMORY_ALERT_RATIO * 100}% of maxmemory`);
    }
  };

  app.get('/healthz', UNAUDITED, () => ({ status: 'ok' }));
  app.get('/readyz', UNAUDITED, async (_req, reply) => {
    let redisOk: boolean;
    let workers: Pick<WorkerBeat, 'workerId' | 'engineOk' | 'pool'>[] = [];
    let memory: { redis?: RedisMemory; audit?: RedisMemory } = {};
    try {
      redisOk = (await deps.redis.ping()) === 'PONG';
      workers = (await deps.workers.live()).map((w) => ({ workerId: w.workerId, engineOk: w.engineOk, ...(w.pool ? { pool: w.pool } : {}) }));
      memory = await memoryOf(deps.redis, deps.auditRedis);
    } catch {
      redisOk = false;
    }
    watch('main', memory.redis);
    watch('audit', memory.audit);
    const dockerOk = workers.some((w) => w.engineOk);
    const ready = redisOk && dockerOk;
    const degraded = memory.redis?.alert === true || memory.audit?.alert === true;
    return reply
      .status(ready ? 200 : 503)
      .send({ status: ready ? (degraded ? 'degraded' : 'ready') : 'not_ready', redis: redisOk, docker: dockerOk, workers, pool: poolTotals(workers), memory });
  });
}

/** Per pool over the live workers: containers targeted, ready and being made. */
function poolTotals(workers: readonly Pick<WorkerBeat, 'pool'>[]): Record<string, { target: number; ready: number; creating: number }> {
  const out: Record<string, { target: number; ready: number; creating: number }> = {};
  for (const w of workers) {
    for (const [name, p] of Object.entries(w.pool ?? {})) {
      const t = (out[name] ??= { target: 0, ready: 0, creating: 0 });
      t.target += p.target;
      t.ready += p.ready;
      t.creating += p.creating;
    }
  }
  return out;
}

/** Memory of the main Redis, and of the audit Redis when it is another server. */
async function memoryOf(redis: Redis, auditRedis: Redis): Promise<{ redis?: RedisMemory; audit?: RedisMemory }> {
  const infoOf = async (r: Redis) => `${await r.info('server')}\n${await r.info('memory')}`; // one section per call: Redis 6 takes one
  const [main, audit] = await Promise.all([infoOf(redis), auditRedis === redis ? undefined : infoOf(auditRedis)]);
  const m = parseMemory(main);
  if (audit === undefined || infoField(audit, 'run_id') === infoField(main, 'run_id')) return { redis: m };
  return { redis: m, audit: parseMemory(audit) };
}

function parseMemory(info: string): RedisMemory {
  const usedBytes = Number(infoField(info, 'used_memory') ?? 0);
  const max = Number(infoField(info, 'maxmemory') ?? 0);
  const maxBytes = max > 0 ? max : null;
  const usedRatio = maxBytes === null ? null : Math.round((usedBytes / maxBytes) * 1000) / 1000;
  return { usedBytes, maxBytes, usedRatio, alert: usedRatio !== null && usedRatio >= MEMORY_ALERT_RATIO };
}

function infoField(info: string, name: string): string | undefined {
  for (const line of info.split('\n')) if (line.startsWith(`${name}:`)) return line.slice(name.length + 1).trim();
  return undefined;
}
