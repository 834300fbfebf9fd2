/**
 * `airlock keys …` and `airlock credentials rotate`, through the same services as the API: each
 * mutation appends its record (actor `{type: 'system', via: 'cli'}`, request `CLI airlock …`).
 * Key management talks to Redis directly: the first admin key has to come from somewhere.
 */
import { commandOrigin } from '../audit/index.js';
import type { Config } from '../config.js';
import { ApiKeyStore, JobCredentialIssuer, JobCredentialVerifier, type ApiKeyInfo, type CreatedApiKey, type RotationResult } from '../credentials/index.js';
import { JobProducer, KeyService, rotateJobTokenKey, type KeyLimitsView, type KeyRevocationResult, type NewApiKey } from '../queue/index.js';
import { RateLimiter, type Anomaly, type KeyLimitOverrides, type Throttle } from '../monitor/index.js';
import { AsyncDisposableStack } from '../shared/index.js';
import { openAuditStore } from './audit-factory.js';
import { commandContext } from './command-context.js';
import type { RootContext } from './context.js';
import { openLimits } from './limits-factory.js';
import { FAIL_FAST, openRedis } from './redis-connections.js';

export async function createKey(config: Config, input: NewApiKey, limits: KeyLimitOverrides = {}): Promise<CreatedApiKey> {
  await using stack = new AsyncDisposableStack();
  return await (await openKeyService(stack, commandContext(config))).create(input, commandOrigin('airlock keys create'), limits);
}

/** `airlock keys limits KEY_ID`: the key's limits as they apply now (role defaults, overrides, throttle). */
export async function keyLimits(config: Config, keyId: string): Promise<KeyLimitsView> {
  await using stack = new AsyncDisposableStack();
  return await (await openKeyService(stack, commandContext(config))).limits(keyId);
}

/** `airlock keys update KEY_ID --rate …`: the same as PATCH /v1/keys/:id (key.update). */
export async function updateKeyLimits(config: Config, keyId: string, limits: KeyLimitOverrides): Promise<KeyLimitsView> {
  await using stack = new AsyncDisposableStack();
  return await (await openKeyService(stack, commandContext(config))).updateLimits(keyId, limits, commandOrigin('airlock keys update'));
}

/** `airlock keys unthrottle KEY_ID`: the same as DELETE /v1/keys/:id/throttle (key.unthrottle). */
export async function unthrottleKey(config: Config, keyId: string): Promise<{ keyId: string; lifted: Throttle | null }> {
  await using stack = new AsyncDisposableStack();
  return await (await openKeyService(stack, commandContext(config))).unthrottle(keyId, commandOrigin('airlock keys unthrottle'));
}

/** `airlock anomalies [--key KEY_ID]`: the latest anomalies, newest first (GET /v1/anomalies). */
export async function listAnomalies(config: Config, opts: { keyId?: string; limit?: number }): Promise<Anomaly[]> {
  await using stack = new AsyncDisposableStack();
  const ctx = commandContext(config);
  const redis = await openRedis(stack, config.redis, config.redis.prefix, 'cli', FAIL_FAST);
  const audit = await openAuditStore(stack, ctx);
  return await openLimits(ctx, redis, audit, () => undefined, { alerts: false }).anomalies.list(opts);
}

export async function listKeys(config: Config): Promise<ApiKeyInfo[]> {
  await using stack = new AsyncDisposableStack();
  const redis = await openRedis(stack, config.redis, config.redis.prefix, 'cli', FAIL_FAST);
  return await new ApiKeyStore(redis, config.redis.prefix, commandContext(config).clock).list();
}

/** The same revocation as `DELETE /v1/keys/:id`: the key, its queued jobs (a job.cancel record each), its running jobs' credentials. */
export async function revokeKey(config: Config, keyId: string, killRunning: boolean): Promise<KeyRevocationResult> {
  await using stack = new AsyncDisposableStack();
  return await (await openKeyService(stack, commandContext(config))).revoke(keyId, killRunning, commandOrigin('airlock keys revoke'));
}

/** On a worker host: sign job tokens with a new key; the old public key stays published until its last token expired. */
export async function rotateJobCredentials(config: Config): Promise<RotationResult> {
  await using stack = new AsyncDisposableStack();
  const ctx = commandContext(config);
  const audit = await openAuditStore(stack, ctx);
  const redis = await openRedis(stack, config.redis, config.redis.prefix, 'cli', FAIL_FAST);
  const issuer = await JobCredentialIssuer.open({ redis, prefix: config.redis.prefix, clock: ctx.clock, options: config.credentials.options, keyDir: config.credentials.keyDir });
  return await rotateJobTokenKey(issuer, audit, commandOrigin('airlock credentials rotate'));
}

async function openKeyService(stack: AsyncDisposableStack, ctx: RootContext): Promise<KeyService> {
  const { config, clock, logger } = ctx;
  const prefix = config.redis.prefix;
  const audit = await openAuditStore(stack, ctx);
  const redis = await openRedis(stack, config.redis, prefix, 'cli', FAIL_FAST);
  // no subscriber: the command line cancels jobs, it never waits for them
  const producer = stack.adopt(
    new JobProducer({ redis, prefix, attempts: config.worker.attempts, retryBackoffMs: config.worker.retryBackoffMs, finishedTtlS: config.resultTtlS, clock }),
    (p) => p.close(),
  );
  const credentials = new JobCredentialVerifier({ redis, prefix, clock, options: config.credentials.options });
  const limiter = new RateLimiter({ redis, prefix, options: config.limits.options, clock });
  return new KeyService({ keys: new ApiKeyStore(redis, prefix, clock), producer, credentials, audit, logger, limiter });
}
