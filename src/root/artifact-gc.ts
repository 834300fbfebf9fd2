/**
 * Artifact garbage collection wired to what references blobs: job records (their results),
 * promotion snapshots (patch and artifacts) and the audit records retention still holds in Redis
 * (any blob a record names). Run by `airlock artifacts gc` (a dry run unless told to delete) and,
 * every AIRLOCK_ARTIFACTS_GC_INTERVAL_MS, by one worker of the deployment at a time (a lock).
 */
import { collectArtifacts, digestsIn, type ArtifactGcReport, type ReferenceSource } from '../artifacts/index.js';
import type { AuditStore } from '../audit/index.js';
import type { Config } from '../config.js';
import { RedisJobStore } from '../queue/index.js';
import { PromotionStore } from '../review/index.js';
import { AsyncDisposableStack } from '../shared/index.js';
import { releaseLock, tryLock, keyRoot } from '../shared/redis/index.js';
import { commandContext } from './command-context.js';
import type { RootContext } from './context.js';
import { openDeployment, type Deployment } from './deployment.js';

/** Audit records are read in pages of this many. */
const AUDIT_PAGE = 500;

export function artifactReferences(config: Config, d: Pick<Deployment, 'redis' | 'audit'>): ReferenceSource[] {
  const jobs = new RedisJobStore(d.redis, config.redis.prefix, config.resultTtlS);
  const promotions = new PromotionStore(d.redis, config.redis.prefix);
  return [() => jobs.referencedArtifacts(), () => promotions.referencedArtifacts(), () => auditReferences(d.audit)];
}

/** Every blob name in the records still in the audit store (trimmed ones are in signed segments, no longer held). */
async function* auditReferences(audit: AuditStore): AsyncIterable<string> {
  const from = (await audit.base()).seq + 1;
  const to = (await audit.head()).seq;
  for (let seq = from; seq <= to; seq += AUDIT_PAGE) {
    for (const raw of await audit.readRaw(seq, Math.min(AUDIT_PAGE, to - seq + 1))) if (raw !== null) yield* digestsIn(raw);
  }
}

/** One collection over the deployment `d`. */
export function collectOnce(ctx: RootContext, d: Deployment, dryRun: boolean): Promise<ArtifactGcReport> {
  return collectArtifacts(
    { store: d.artifacts, pins: d.pins, references: artifactReferences(ctx.config, d), minAgeMs: ctx.config.artifactsGc.minAgeMs, clock: ctx.clock, logger: ctx.logger },
    { dryRun },
  );
}

/** `airlock artifacts gc [--delete]`. */
export async function collectArtifactGarbage(config: Config, opts: { dryRun: boolean }): Promise<ArtifactGcReport> {
  await using stack = new AsyncDisposableStack();
  const ctx = commandContext(config);
  return collectOnce(ctx, await openDeployment(stack, ctx), opts.dryRun);
}

/** The worker's schedule: every intervalMs, whoever takes the deployment's lock collects; stopped with the stack. */
export function scheduleArtifactGc(stack: AsyncDisposableStack, ctx: RootContext, d: Deployment): void {
  const { intervalMs } = ctx.config.artifactsGc;
  if (intervalMs === 0) return;
  const lockKey = `${keyRoot(ctx.config.redis.prefix)}:artifacts:gc-lock`;
  let running: Promise<void> | undefined;
  const tick = async (): Promise<void> => {
    const token = await tryLock(d.redis, lockKey, intervalMs);
    if (token === undefined) return;
    try {
      await collectOnce(ctx, d, false);
    } finally {
      await releaseLock(d.redis, lockKey, token).catch(() => undefined);
    }
  };
  const timer = setInterval(() => {
    running ??= tick()
      .catch((err: unknown) => ctx.logger.warn({ err }, 'artifact GC failed'))
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  stack.defer(async () => {
    clearInterval(timer);
    await running;
  });
}
