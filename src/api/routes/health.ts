import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { WorkerRegistry } from '../../queue/index.js';

/**
 * /healthz: the process is up. /readyz: Redis answers and at least one live worker reports
 * a reachable Docker engine (the API itself has no Docker socket).
 */
export function healthRoutes(app: FastifyInstance, deps: { redis: Redis; workers: WorkerRegistry }): void {
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    let redisOk: boolean;
    let workers: { workerId: string; engineOk: boolean }[] = [];
    try {
      redisOk = (await deps.redis.ping()) === 'PONG';
      workers = (await deps.workers.live()).map((w) => ({ workerId: w.workerId, engineOk: w.engineOk }));
    } catch {
      redisOk = false;
    }
    const dockerOk = workers.some((w) => w.engineOk);
    const ready = redisOk && dockerOk;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', redis: redisOk, docker: dockerOk, workers });
  });
}
