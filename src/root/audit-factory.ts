/**
 * The audit log: its own Redis connection (appends fail fast, fail closed: never queued while
 * Redis is away; AIRLOCK_AUDIT_REDIS_URL may put the log on another Redis than the jobs), and,
 * for the role that serves the API, the checkpointer. Opened first, so it closes last: the final
 * checkpoint pins everything the API and the worker recorded before they stopped.
 */
import { CheckpointFileSink, Checkpointer, RedisAuditStore, loadOrCreateSigningKey, verifyChain, type VerifyResult } from '../audit/index.js';
import type { AsyncDisposableStack } from '../shared/index.js';
import type { RootContext } from './context.js';
import { FAIL_FAST, openRedis } from './redis-connections.js';

export async function openAuditStore(stack: AsyncDisposableStack, { config, clock, metrics }: RootContext): Promise<RedisAuditStore> {
  const redis = await openRedis(stack, config.audit.redis, config.redis.prefix, 'audit', { ...FAIL_FAST, commandTimeout: 2000 });
  return new RedisAuditStore({
    redis,
    prefix: config.redis.prefix,
    clock,
    appendMaxAttempts: config.audit.appendMaxAttempts,
    appendTimeoutMs: config.audit.appendTimeoutMs,
    waitReplicas: config.audit.waitReplicas,
    waitTimeoutMs: config.audit.waitTimeoutMs,
    ...(metrics !== undefined ? { metrics } : {}),
  });
}

/**
 * Signed checkpoints (one checkpointer per deployment is enough: the role that serves the API),
 * and verify over this deployment's checkpoints, key and segments. At shutdown, after everything
 * opened later: a last checkpoint, so a stopped deployment still verifies.
 */
export async function openCheckpoints(stack: AsyncDisposableStack, { config, clock, logger }: RootContext, store: RedisAuditStore): Promise<() => Promise<VerifyResult>> {
  const key = await loadOrCreateSigningKey(config.audit.signingKeyFile);
  const sink = new CheckpointFileSink(config.audit.checkpointFile);
  const checkpointer = new Checkpointer({
    store,
    key,
    sink,
    clock,
    everyRecords: config.audit.checkpointEveryRecords,
    everyMs: config.audit.checkpointEveryMs,
    pollMs: config.audit.checkpointPollMs,
    onError: (err) => logger.warn({ err }, 'audit checkpoint failed'),
  });
  checkpointer.start();
  stack.defer(async () => {
    await checkpointer.stop();
    await checkpointer.checkpointNow();
  });
  return () =>
    verifyChain({
      store,
      checkpoints: sink,
      trustedKeys: [key],
      segmentsDir: config.audit.segmentsDir,
      clock,
      staleAfterRecords: config.audit.staleAfterRecords,
      staleAfterMs: config.audit.staleAfterMs,
    });
}
