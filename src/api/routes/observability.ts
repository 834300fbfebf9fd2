/**
 * What people and Prometheus watch the deployment through: the console (its files, and the two
 * reads it needs), the operations summary, and /metrics with the HTTP request counts.
 */
import type { FastifyInstance } from 'fastify';
import type { RedisAuditStore } from '../../audit/index.js';
import type { JobProducer, WorkerRegistry } from '../../queue/index.js';
import type { PromotionService } from '../../review/index.js';
import { systemClock, type Logger } from '../../shared/index.js';
import type { PromMetrics } from '../metrics/prom-metrics.js';
import { consoleRoutes } from './console.js';
import { consoleReads } from './console-reads.js';
import { metricsRoutes, registerHttpMetrics } from './metrics.js';
import { operationsRoutes, type RememberedVerify } from './operations.js';

export interface ObservabilityDeps {
  store: RedisAuditStore;
  producer: JobProducer;
  workers: WorkerRegistry;
  review: PromotionService;
  verify: RememberedVerify;
  logger: Logger;
  /** Absent: no /metrics route (an app built without the composition root). */
  metrics: PromMetrics | undefined;
}

export function observabilityRoutes(app: FastifyInstance, deps: ObservabilityDeps): void {
  consoleRoutes(app);
  consoleReads(app, deps.review);
  operationsRoutes(app, { store: deps.store, producer: deps.producer, workers: deps.workers, verify: deps.verify, clock: systemClock });
  if (deps.metrics === undefined) return;
  registerHttpMetrics(app, deps.metrics);
  metricsRoutes(app, { metrics: deps.metrics, producer: deps.producer, workers: deps.workers, review: deps.review, verify: deps.verify, logger: deps.logger });
}
