/**
 * The API role: the job producer (with its own connection for ?wait), the review module and its
 * sweeper, the mutation services, the fastify app, the first admin key, and the listening socket
 * (last: nothing answers before everything behind it is up). Closing stops accepting first.
 */
import { dirname } from 'node:path';
import { buildApp } from '../api/index.js';
import { startupOrigin, type VerifyResult } from '../audit/index.js';
import { JobCredentialVerifier, type CreatedApiKey } from '../credentials/index.js';
import { JobProducer, JobService, KeyService } from '../queue/index.js';
import { NO_PROMOTION_TARGETS, loadApprovalPolicyFile, openReview, type PromotionService } from '../review/index.js';
import type { AsyncDisposableStack } from '../shared/index.js';
import type { RootContext } from './context.js';
import type { Deployment } from './deployment.js';
import { openRedis, WAITING } from './redis-connections.js';

export interface ApiRole {
  readonly app: ReturnType<typeof buildApp>;
  readonly url: string;
  readonly review: PromotionService;
  /** The first admin key, when this start created it (shown once). */
  readonly bootstrapKey: CreatedApiKey | undefined;
}

export async function openApi(stack: AsyncDisposableStack, ctx: RootContext, d: Deployment, verify: () => Promise<VerifyResult>): Promise<ApiRole> {
  const { config, logger, clock } = ctx;
  const prefix = config.redis.prefix;
  const subscriber = await openRedis(stack, config.redis, prefix, 'api-events', WAITING);
  const producer = stack.adopt(
    new JobProducer({ redis: d.redis, subscriber, prefix, attempts: config.worker.attempts, retryBackoffMs: config.worker.retryBackoffMs, finishedTtlS: config.resultTtlS, clock }),
    (p) => p.close(),
  );
  // known once listening (the port may be 0)
  const listening: { url?: string } = {};
  const review = stack.adopt(
    openReview({
      redis: d.redis,
      prefix,
      policy: config.review.policyFile === undefined ? NO_PROMOTION_TARGETS : loadApprovalPolicyFile(config.review.policyFile),
      audit: d.audit,
      artifacts: d.artifacts,
      clock,
      logger,
      resolveSecret: d.resolveSecret,
      baseDir: config.review.policyFile === undefined ? process.cwd() : dirname(config.review.policyFile),
      // known once listening (the port may be 0); AIRLOCK_PUBLIC_URL names it behind a proxy
      publicUrl: () => config.review.publicUrl ?? listening.url?.replace('0.0.0.0', '127.0.0.1'),
      sweepMs: config.review.sweepMs,
      applyLeaseMs: config.review.applyLeaseMs,
      webhook: { ...config.review.webhook, sleep: (ms) => clock.sleep(ms) },
    }),
    (r) => r.close(),
  );
  const credentials = new JobCredentialVerifier({ redis: d.redis, prefix, clock, options: config.credentials.options });
  const keyService = new KeyService({ keys: d.keys, producer, credentials, audit: d.audit, logger, limiter: d.limits.limiter });
  const app = stack.adopt(
    buildApp({
      review,
      tools: d.tools,
      credentials,
      redis: d.redis,
      producer,
      jobs: new JobService({
        producer,
        audit: d.audit,
        logger,
        limiter: d.limits.limiter,
        refusals: d.limits.refusals,
        behaviour: d.limits.anomalies,
        unlimitedForBenchmark: config.http.unlimitedForBenchmark,
      }),
      limits: d.limits,
      artifacts: d.artifacts,
      keys: d.keys,
      keyService,
      workers: d.registry,
      profiles: d.profiles,
      logger,
      bodyLimitBytes: config.http.bodyLimitBytes,
      maxWaitS: config.http.maxWaitS,
      mcp: config.http.mcp,
      audit: { store: d.audit, verify },
      unauditedForBenchmark: config.http.unauditedForBenchmark,
      unlimitedForBenchmark: config.http.unlimitedForBenchmark,
      ...(ctx.metrics !== undefined ? { metrics: ctx.metrics } : {}),
    }),
    (a) => a.close(),
  );
  review.start();
  const bootstrapKey = config.http.bootstrapAdmin ? await keyService.bootstrapAdmin(startupOrigin()) : undefined;
  const url = await app.listen({ host: config.http.host, port: config.http.port });
  listening.url = url;
  return { app, url, review, bootstrapKey };
}
