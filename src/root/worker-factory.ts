/**
 * The worker role: the Docker engine (checked before anything else of the worker opens), its
 * warm pool, the job credentials of tools, BullMQ's blocking and cancel connections, and the
 * worker. Closing drains: running jobs finish, then the connections and the engine go.
 */
import { JobCredentialIssuer } from '../credentials/index.js';
import { resolveToolSecrets } from '../gateway/index.js';
import { defaultWorkerId, JobGrants, JobWorker, poolTemplatesOf } from '../queue/index.js';
import { DockerRuntime, loadImageCatalog, SandboxPool } from '../sandbox/index.js';
import type { AsyncDisposableStack } from '../shared/index.js';
import type { RootContext } from './context.js';
import type { Deployment } from './deployment.js';
import { openRedis, WAITING } from './redis-connections.js';
import { TimedRuntime } from './timed-runtime.js';

export async function openWorker(stack: AsyncDisposableStack, ctx: RootContext, d: Deployment): Promise<JobWorker> {
  const { config, logger, clock } = ctx;
  const prefix = config.redis.prefix;
  const workerId = config.worker.id ?? defaultWorkerId();
  const runtime = stack.adopt(new DockerRuntime({ socketPath: config.docker.socketPath, workerId, deployment: prefix, logger }), (r) => r.close());
  await runtime.ping();
  const images = loadImageCatalog(config.dataDir);
  const grants = await openGrants(ctx, d, workerId);
  const blocking = await openRedis(stack, config.redis, prefix, 'worker', WAITING);
  const subscriber = await openRedis(stack, config.redis, prefix, 'worker-events', WAITING);
  const labels = Object.keys(config.docker.labels).length > 0 ? config.docker.labels : undefined;
  // started containers per profile (filled by worker.start() after the reaper, removed by its close)
  const pool = new SandboxPool({
    engine: runtime,
    options: config.pool,
    concurrency: config.worker.concurrency,
    templates: poolTemplatesOf(d.profiles, images, grants !== undefined),
    runRoot: config.tools.gatewayDir,
    labels,
    clock,
    logger,
  });
  const worker = new JobWorker({
    redis: blocking,
    subscriber,
    prefix,
    workerId,
    registry: d.registry,
    concurrency: config.worker.concurrency,
    attempts: config.worker.attempts,
    lockDurationMs: config.worker.lockDurationMs,
    stalledIntervalMs: config.worker.stalledIntervalMs,
    finishedTtlS: config.resultTtlS,
    // cold starts timed for the metrics; the pool starts its own with the plain engine
    runtime: ctx.metrics !== undefined ? new TimedRuntime(runtime, ctx.metrics) : runtime,
    pool,
    profiles: d.profiles,
    images,
    clock,
    logger,
    audit: d.audit,
    artifacts: d.artifacts,
    ...(grants !== undefined ? { grants } : {}),
    ...(labels !== undefined ? { labels } : {}),
  });
  return stack.adopt(worker, (w) => w.close());
}

/** Tools need the job-token signing key and every secret a tool injects (a missing one stops start-up); none configured: no grants. */
async function openGrants({ config, logger, clock }: RootContext, d: Deployment, workerId: string): Promise<JobGrants | undefined> {
  if (d.tools.length === 0) return undefined;
  resolveToolSecrets(d.tools, d.resolveSecret);
  const issuer = await JobCredentialIssuer.open({ redis: d.redis, prefix: config.redis.prefix, clock, options: config.credentials.options, keyDir: config.credentials.keyDir });
  return new JobGrants({
    issuer,
    tools: d.tools,
    resolveSecret: d.resolveSecret,
    gatewayDir: config.tools.gatewayDir,
    audit: d.audit,
    workerId,
    logger,
    callRate: config.tools.callRate,
  });
}
