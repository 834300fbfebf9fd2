/**
 * Composition root: load config, build adapters, start the API and/or the worker, handle
 * signals. `startAirlock` is also what the tests start, with their own prefix and port.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from './api/index.js';
import { openArtifactStore } from './artifacts/index.js';
import { CheckpointFileSink, Checkpointer, RedisAuditStore, loadOrCreateSigningKey, verifyChain, type AuditStore, type VerifyResult } from './audit/index.js';
import { loadConfig, type Config } from './config.js';
import { ApiKeyStore, JobCredentialIssuer, JobCredentialVerifier, type CreatedApiKey } from './credentials/index.js';
import { parseTools, resolveToolSecrets, type Tool } from './gateway/index.js';
import { loadProfiles } from './profiles/index.js';
import { defaultWorkerId, JobGrants, JobProducer, JobWorker, poolTemplatesOf, WorkerRegistry } from './queue/index.js';
import { NO_PROMOTION_TARGETS, loadApprovalPolicyFile, openReview, type PromotionService } from './review/index.js';
import { DockerRuntime, loadImageCatalog, SandboxPool } from './sandbox/index.js';
import { AppError, containProcessErrors, createLogger, systemClock, type Clock, type Logger } from './shared/index.js';
import { connectRedis as connectEndpoint, type RedisEndpoint } from './shared/redis/index.js';

type ApiApp = ReturnType<typeof buildApp>;

export interface Airlock {
  readonly app: ApiApp | undefined;
  readonly worker: JobWorker | undefined;
  readonly keys: ApiKeyStore;
  readonly bootstrapKey: CreatedApiKey | undefined;
  readonly url: string | undefined;
  /** Promotions (API role only). */
  readonly review: PromotionService | undefined;
  /** Graceful: stop accepting, drain running jobs, close connections. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  clock?: Clock;
  /** Extra labels on every sandbox container (tests). */
  containerLabels?: Record<string, string>;
  /**
   * Benchmarks only (scripts/bench-audit.ts): serve the API without the audit hook, to
   * measure its cost in the same run. Never set by `main()`; no variable turns auditing off.
   */
  unauditedForBenchmark?: boolean;
  /** Waits between webhook retries (tests: no real sleeping). */
  webhookSleep?: (ms: number) => Promise<void>;
  /** Skip creating the first admin key (tests create their own). */
  bootstrapAdmin?: boolean;
}

/** A URL, or an endpoint through Redis Sentinel (config.redis, config.audit.redis). */
export function connectRedis(endpoint: RedisEndpoint | string, opts: RedisOptions = {}): Promise<Redis> {
  return connectEndpoint(endpoint, opts);
}

/** The tools file (no secrets in it), validated at start-up; none configured: no tools. */
export function loadTools(config: Config): Tool[] {
  if (config.tools.file === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(config.tools.file, 'utf8'));
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `tools file ${config.tools.file}: ${(err as Error).message}`, { cause: err });
  }
  return parseTools(raw);
}

/** Secrets by name: the secrets file, then AIRLOCK_SECRET_<NAME> variables (which win). */
function secretResolver(config: Config): (name: string) => string | undefined {
  let fileSecrets: Record<string, string> = {};
  if (config.tools.secretsFile !== undefined) {
    try {
      fileSecrets = JSON.parse(readFileSync(config.tools.secretsFile, 'utf8')) as Record<string, string>;
    } catch (err) {
      throw new AppError('CONFIG_INVALID', `secrets file ${config.tools.secretsFile}: ${(err as Error).message}`, { cause: err });
    }
  }
  const secrets = new Map<string, string>(Object.entries({ ...fileSecrets, ...config.tools.envSecrets }).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
  return (name) => secrets.get(name);
}

/** Worker side of tools: the signing key, and every secret a tool injects (a missing one stops start-up). */
async function openGrants(
  config: Config,
  tools: Tool[],
  resolveSecret: (name: string) => string | undefined,
  redis: Redis,
  audit: AuditStore,
  workerId: string,
  logger: Logger,
  clock: Clock,
): Promise<JobGrants> {
  resolveToolSecrets(tools, resolveSecret);
  const issuer = await JobCredentialIssuer.open({ redis, prefix: config.redis.prefix, clock, options: config.credentials.options, keyDir: config.credentials.keyDir });
  return new JobGrants({ issuer, tools, resolveSecret, gatewayDir: config.tools.gatewayDir, audit, workerId, logger, callRate: config.tools.callRate });
}

export async function startAirlock(config: Config, opts: StartOptions = {}): Promise<Airlock> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  const clock = opts.clock ?? systemClock;
  const profiles = loadProfiles(config.profilesDir);
  const prefix = config.redis.prefix;
  const closers: (() => Promise<unknown>)[] = [];

  // producers fail fast while Redis is down (no offline queue); workers block and wait
  const cmd = await connectRedis(config.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  closers.push(() => cmd.quit());
  const keys = new ApiKeyStore(cmd, prefix, clock);
  const artifacts = await openArtifactStore(config.artifacts);
  closers.push(() => artifacts.close());
  // its own connection: appends must fail fast (fail closed), never queue while Redis is away
  // (AIRLOCK_AUDIT_REDIS_URL may put the log on another Redis than the jobs)
  const auditRedis = await connectRedis(config.audit.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
  let checkpointer: Checkpointer | undefined;
  closers.push(async () => {
    try {
      // last, after the API and the worker: pin what this deployment recorded, so a stopped
      // deployment still verifies (no record left uncovered to go stale)
      await checkpointer?.stop();
      await checkpointer?.checkpointNow();
    } finally {
      // quit fails while the audit Redis is away; then drop the connection rather than let it retry forever
      await auditRedis.quit().catch(() => auditRedis.disconnect());
    }
  });
  const audit = new RedisAuditStore({
    redis: auditRedis,
    prefix,
    clock,
    appendMaxAttempts: config.audit.appendMaxAttempts,
    appendTimeoutMs: config.audit.appendTimeoutMs,
    waitReplicas: config.audit.waitReplicas,
    waitTimeoutMs: config.audit.waitTimeoutMs,
  });
  const registry = new WorkerRegistry(cmd, prefix, config.worker.lockDurationMs * 2);
  const tools = loadTools(config);
  // read once: tool secrets (worker) and the approval policy's hook secrets (API)
  const resolveSecret = secretResolver(config);

  let worker: JobWorker | undefined;
  if (config.role !== 'api') {
    const workerId = config.worker.id ?? defaultWorkerId();
    const runtime = new DockerRuntime({ socketPath: config.docker.socketPath, workerId, deployment: prefix, logger });
    await runtime.ping();
    const images = loadImageCatalog(config.dataDir);
    const blocking = await connectRedis(config.redis, { maxRetriesPerRequest: null });
    const sub = await connectRedis(config.redis, { maxRetriesPerRequest: null });
    const grants = tools.length === 0 ? undefined : await openGrants(config, tools, resolveSecret, cmd, audit, workerId, logger, clock);
    // started containers per profile (filled by worker.start() after the reaper, removed by its close)
    const pool = new SandboxPool({
      engine: runtime,
      options: config.pool,
      concurrency: config.worker.concurrency,
      templates: poolTemplatesOf(profiles, images, grants !== undefined),
      runRoot: config.tools.gatewayDir,
      labels: opts.containerLabels,
      clock,
      logger,
    });
    worker = new JobWorker({
      redis: blocking,
      subscriber: sub,
      prefix,
      workerId,
      registry,
      concurrency: config.worker.concurrency,
      attempts: config.worker.attempts,
      lockDurationMs: config.worker.lockDurationMs,
      stalledIntervalMs: config.worker.stalledIntervalMs,
      finishedTtlS: config.resultTtlS,
      runtime,
      pool,
      profiles,
      images,
      clock,
      logger,
      audit,
      artifacts,
      ...(grants !== undefined ? { grants } : {}),
      ...(opts.containerLabels ? { labels: opts.containerLabels } : {}),
    });
    closers.unshift(async () => {
      await worker?.close();
      blocking.disconnect();
      sub.disconnect();
      runtime.close();
    });
  }

  let app: ApiApp | undefined;
  let url: string | undefined;
  let bootstrapKey: CreatedApiKey | undefined;
  let review: PromotionService | undefined;
  if (config.role !== 'worker') {
    const sub = await connectRedis(config.redis, { maxRetriesPerRequest: null });
    const producer = new JobProducer({
      redis: cmd,
      subscriber: sub,
      prefix,
      attempts: config.worker.attempts,
      retryBackoffMs: config.worker.retryBackoffMs,
      finishedTtlS: config.resultTtlS,
      clock,
    });
    // the role that serves the API signs checkpoints (one checkpointer per deployment is enough)
    const signingKey = await loadOrCreateSigningKey(config.audit.signingKeyFile);
    const sink = new CheckpointFileSink(config.audit.checkpointFile);
    checkpointer = new Checkpointer({
      store: audit,
      key: signingKey,
      sink,
      clock,
      everyRecords: config.audit.checkpointEveryRecords,
      everyMs: config.audit.checkpointEveryMs,
      pollMs: config.audit.checkpointPollMs,
      onError: (err) => logger.warn({ err }, 'audit checkpoint failed'),
    });
    const verify = (): Promise<VerifyResult> =>
      verifyChain({
        store: audit,
        checkpoints: sink,
        trustedKeys: [signingKey],
        segmentsDir: config.audit.segmentsDir,
        clock,
        staleAfterRecords: config.audit.staleAfterRecords,
        staleAfterMs: config.audit.staleAfterMs,
      });
    const policy = config.review.policyFile === undefined ? NO_PROMOTION_TARGETS : loadApprovalPolicyFile(config.review.policyFile);
    review = openReview({
      redis: cmd,
      prefix,
      policy,
      audit,
      artifacts,
      clock,
      logger,
      resolveSecret,
      baseDir: config.review.policyFile === undefined ? process.cwd() : dirname(config.review.policyFile),
      // known once listening (the port may be 0); AIRLOCK_PUBLIC_URL names it behind a proxy
      publicUrl: () => config.review.publicUrl ?? url?.replace('0.0.0.0', '127.0.0.1'),
      sweepMs: config.review.sweepMs,
      applyLeaseMs: config.review.applyLeaseMs,
      webhook: { ...config.review.webhook, ...(opts.webhookSleep ? { sleep: opts.webhookSleep } : {}) },
    });
    app = buildApp({
      review,
      tools,
      credentials: new JobCredentialVerifier({ redis: cmd, prefix, clock, options: config.credentials.options }),
      redis: cmd,
      producer,
      artifacts,
      keys,
      workers: registry,
      profiles,
      logger,
      bodyLimitBytes: config.http.bodyLimitBytes,
      maxWaitS: config.http.maxWaitS,
      audit: { store: audit, verify },
      ...(opts.unauditedForBenchmark === true ? { unauditedForBenchmark: true } : {}),
    });
    const a = app;
    const r = review;
    closers.unshift(async () => {
      await a.close();
      await r.close();
      await producer.close();
      sub.disconnect();
    });
    checkpointer.start();
    review.start();
    if (opts.bootstrapAdmin !== false) bootstrapKey = await keys.bootstrapAdmin();
    url = await app.listen({ host: config.http.host, port: config.http.port });
  }
  if (worker) await worker.start();

  return {
    app,
    worker,
    keys,
    bootstrapKey,
    url,
    review,
    async close() {
      for (const c of closers) await c().catch((err: unknown) => logger.warn({ err }, 'close step failed'));
    },
  };
}

function banner(a: Airlock, config: Config): string {
  const lines = [`airlock ${config.role === 'all' ? 'API + worker' : config.role} ready`];
  if (a.url !== undefined) {
    const base = a.url.replace('0.0.0.0', '127.0.0.1');
    lines.push(`  listening on ${a.url}`);
    if (a.bootstrapKey) {
      lines.push('', '  First start: an admin API key was created. It is shown ONCE; store it now:', `    ${a.bootstrapKey.key}`, '');
      lines.push('  Create a key for an agent:  npx airlock keys create --role agent');
    }
    lines.push(
      '  Submit a first job (with an agent or admin key):',
      `    curl -s -X POST '${base}/v1/jobs?wait=30' -H "Authorization: Bearer $AIRLOCK_KEY" \\`,
      `      -H 'content-type: application/json' \\`,
      `      -d '{"runtime":"python","files":[{"path":"main.py","content":"print(\\"hello from the sandbox\\")"}]}'`,
    );
  }
  if (a.worker) lines.push(`  worker ${a.worker.workerId}: concurrency ${config.worker.concurrency}`);
  return lines.join('\n');
}

export async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  // an error escaping one job's gateway is logged and contained; any other uncaught error still ends the process
  containProcessErrors({ logger });
  // handlers first: a SIGTERM that arrives while we start up still drains
  let airlock: Airlock | undefined;
  let stopSignal: string | undefined;
  const stop = (signal: string) => {
    if (stopSignal !== undefined && airlock === undefined) return;
    stopSignal ??= signal;
    if (airlock === undefined) return; // drained once start-up completes
    const a = airlock;
    airlock = undefined;
    logger.info({ signal }, 'draining: no new jobs, running jobs finish');
    a.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  airlock = await startAirlock(config, { logger });
  process.stdout.write(`${banner(airlock, config)}\n`);
  if (stopSignal !== undefined) stop(stopSignal);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`airlock: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
