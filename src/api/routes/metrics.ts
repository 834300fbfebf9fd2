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
import type { Logger, Metrics } from '../../shared/index.js';
import { requireRole } from '../auth.js';
import type { DeploymentSnapshot, PromMetrics } from '../metrics/prom-metrics.js';
import { audited } from '../route-audit.js';
import type { RememberedVerify } from './operations.js';
import { reviewerKey } from './promotions.js';

export interface MetricsRoutesDeps {
  metrics: PromMetrics;
  producer: JobProducer;
  workers: WorkerRegistry;
  review: PromotionService;
  /** The chain is verified in the background when a scrape finds the last verify older than VERIFY_EVERY_MS. */
  verify: RememberedVerify;
  logger: Logger;
}

/** How old the last verify may be before a scrape starts another (the alert on it: examples/prometheus-rules.yml). */
export const VERIFY_EVERY_MS = 10 * 60_000;

/** Promotions counted per scrape: the newest this many (the gauge says so). */
const PROMOTIONS_COUNTED = 500;

export function metricsRoutes(app: FastifyInstance, deps: MetricsRoutesDeps): void {
  app.get('/metrics', audited('request'), async (req, reply) => {
    const key = requireRole(req, 'service', 'admin');
    verifyWhenDue(deps);
    const [queue, workers, promotions] = await Promise.all([deps.producer.counts(), deps.workers.live(), deps.review.list(reviewerKey(key), { limit: PROMOTIONS_COUNTED })]);
    const byState: Record<string, number> = {};
    for (const p of promotions) byState[p.state] = (byState[p.state] ?? 0) + 1;
    const last = deps.verify.last();
    const snapshot: DeploymentSnapshot = { queue, workers, promotions: byState, lastVerify: last === null ? null : { atMs: Date.parse(last.at), ok: last.result.ok } };
    deps.metrics.refresh(snapshot);
    return reply.type(deps.metrics.contentType).send(await deps.metrics.text());
  });
}

/** Starts a verify (not awaited: a scrape stays fast) when none ran for VERIFY_EVERY_MS; a running one is not doubled. */
function verifyWhenDue(deps: MetricsRoutesDeps): void {
  const last = deps.verify.last();
  if (last !== null && Date.now() - Date.parse(last.at) < VERIFY_EVERY_MS) return;
  deps.verify.run().catch((err: unknown) => deps.logger.warn({ err }, 'audit chain verify (for /metrics) failed to run'));
}

/** Counts every answered request by its route pattern (an unknown route is `unmatched`: a URL never becomes a label). */
export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (req, reply, done) => {
    metrics.httpRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime);
    done();
  });
}
