/**
 * GET /metrics: the Prometheus text exposition, on the API's own port, for a key of role
 * `service` (a scraper's) or `admin` — the same bearer keys as every other route, so there is no
 * second listener to secure, and each scrape is audited like any read. Prometheus sends the key
 * with `authorization: { type: Bearer, credentials_file: … }` (docs/runbook.md). The
 * deployment-wide gauges are read at each scrape; the rest counts what this process did.
 * Also: every answered request is counted by method, route pattern and status.
 */
import type { FastifyInstance } from 'fastify';
import type { JobProducer, WorkerRegistry } from '../../queue/index.js';
import type { PromotionService } from '../../review/index.js';
import type { Metrics } from '../../shared/index.js';
import { requireRole } from '../auth.js';
import type { DeploymentSnapshot, PromMetrics } from '../metrics/prom-metrics.js';
import { audited } from '../route-audit.js';
import { reviewerKey } from './promotions.js';

export interface MetricsRoutesDeps {
  metrics: PromMetrics;
  producer: JobProducer;
  workers: WorkerRegistry;
  review: PromotionService;
}

/** Promotions counted per scrape: the newest this many (the gauge says so). */
const PROMOTIONS_COUNTED = 500;

export function metricsRoutes(app: FastifyInstance, deps: MetricsRoutesDeps): void {
  app.get('/metrics', audited('request'), async (req, reply) => {
    const key = requireRole(req, 'service', 'admin');
    const [queue, workers, promotions] = await Promise.all([deps.producer.counts(), deps.workers.live(), deps.review.list(reviewerKey(key), { limit: PROMOTIONS_COUNTED })]);
    const byState: Record<string, number> = {};
    for (const p of promotions) byState[p.state] = (byState[p.state] ?? 0) + 1;
    const snapshot: DeploymentSnapshot = { queue, workers, promotions: byState };
    deps.metrics.refresh(snapshot);
    return reply.type(deps.metrics.contentType).send(await deps.metrics.text());
  });
}

/** Counts every answered request by its route pattern (an unknown route is `unmatched`: a URL never becomes a label). */
export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (req, reply, done) => {
    metrics.httpRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime);
    done();
  });
}
