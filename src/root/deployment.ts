/**
 * What every role shares: the audit log, the command connection (producers fail fast while Redis
 * is down: no offline queue), API keys, the artifact store, the worker registry, the profiles,
 * the tools and the secrets.
 */
import type { Redis } from 'ioredis';
import { ArtifactPins, openArtifactStore, PinningArtifactStore, type CollectableArtifactStore } from '../artifacts/index.js';
import type { RedisAuditStore } from '../audit/index.js';
import { ApiKeyStore } from '../credentials/index.js';
import type { Tool } from '../gateway/index.js';
import { loadProfiles, type LoadedProfile } from '../profiles/index.js';
import { WorkerRegistry } from '../queue/index.js';
import type { AsyncDisposableStack } from '../shared/index.js';
import { openAuditStore } from './audit-factory.js';
import type { RootContext } from './context.js';
import { openLimits, type Limits } from './limits-factory.js';
import { FAIL_FAST, openRedis } from './redis-connections.js';
import { loadTools, secretResolver } from './tools.js';

export interface Deployment {
  readonly audit: RedisAuditStore;
  readonly redis: Redis;
  readonly keys: ApiKeyStore;
  /** Every write pins its digest first, so the artifact GC never deletes what a job or promotion is about to reference. */
  readonly artifacts: CollectableArtifactStore;
  readonly pins: ArtifactPins;
  readonly registry: WorkerRegistry;
  readonly profiles: ReadonlyMap<string, LoadedProfile>;
  readonly tools: readonly Tool[];
  readonly resolveSecret: (name: string) => string | undefined;
  /** Per-key limits, refusal records, baselines and anomalies. */
  readonly limits: Limits;
}

/** Files first (a bad one stops start-up before anything is opened), then connections. */
export async function openDeployment(stack: AsyncDisposableStack, ctx: RootContext): Promise<Deployment> {
  const { config, clock } = ctx;
  const profiles = loadProfiles(config.profilesDir);
  const tools = loadTools(config);
  // read once: tool secrets (worker) and the approval policy's hook secrets (API)
  const resolveSecret = secretResolver(config);
  const audit = await openAuditStore(stack, ctx);
  const redis = await openRedis(stack, config.redis, config.redis.prefix, 'commands', FAIL_FAST);
  const pins = new ArtifactPins(redis, config.redis.prefix, clock);
  const artifacts = new PinningArtifactStore(
    stack.adopt(await openArtifactStore(config.artifacts), (a) => a.close()),
    pins,
  );
  // closed before the audit log: its refusal summaries and anomaly records still go there
  const limits = stack.adopt(openLimits(ctx, redis, audit, resolveSecret), (l) => l.close());
  return {
    limits,
    audit,
    redis,
    keys: new ApiKeyStore(redis, config.redis.prefix, clock),
    artifacts,
    pins,
    registry: new WorkerRegistry(redis, config.redis.prefix, config.worker.lockDurationMs * 2),
    profiles,
    tools,
    resolveSecret,
  };
}
