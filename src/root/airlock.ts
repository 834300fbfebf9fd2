/**
 * The composition root: one start-up for `airlock serve`, the tests and the benchmarks. Small
 * per-module factories add what they open to one AsyncDisposableStack, so a start that fails at
 * any step releases everything opened before it (`await using`), and shutdown runs in reverse
 * order of construction — declared once, by the order below: the audit log opens first and closes
 * last (its final checkpoint covers everything), the API opens last and stops accepting first.
 */
import { PromMetrics, type buildApp } from '../api/index.js';
import type { Config } from '../config.js';
import type { ApiKeyStore, CreatedApiKey } from '../credentials/index.js';
import type { JobWorker } from '../queue/index.js';
import type { PromotionService } from '../review/index.js';
import { AsyncDisposableStack, createLogger, systemClock, type Clock, type Logger } from '../shared/index.js';
import { openApi } from './api-factory.js';
import { openCheckpoints } from './audit-factory.js';
import type { RootContext } from './context.js';
import { scheduleArtifactGc } from './artifact-gc.js';
import { openDeployment } from './deployment.js';
import { openWorker } from './worker-factory.js';

export interface Airlock extends AsyncDisposable {
  readonly config: Config;
  /** The API (roles `all` and `api`). */
  readonly app: ReturnType<typeof buildApp> | undefined;
  readonly url: string | undefined;
  /** The worker (roles `all` and `worker`). */
  readonly worker: JobWorker | undefined;
  /** The key store itself (tests make their fixture keys with it, unrecorded; every other caller goes through KeyService). */
  readonly keys: ApiKeyStore;
  /** The first admin key, when this start created it (shown once). */
  readonly bootstrapKey: CreatedApiKey | undefined;
  /** Promotions (API role). */
  readonly review: PromotionService | undefined;
  /** This process's metrics (served at GET /metrics by the API role). */
  readonly metrics: PromMetrics;
  /** Graceful: stop accepting, drain running jobs, close connections (reverse order of opening). */
  close(): Promise<void>;
}

/** What is passed in rather than configured: the log and the clock (tests use a fake one; its sleep never waits). */
export interface OpenOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
}

export async function openAirlock(config: Config, opts: OpenOptions = {}): Promise<Airlock> {
  // one registry per Airlock: counts from the audit appends, cold sandbox starts and HTTP answers (GET /metrics)
  const metrics = new PromMetrics();
  const ctx: RootContext = { config, logger: opts.logger ?? createLogger({ level: config.logLevel }), clock: opts.clock ?? systemClock, metrics };
  await using stack = new AsyncDisposableStack();
  const d = await openDeployment(stack, ctx);
  const servesApi = config.role !== 'worker';
  // the role that serves the API signs checkpoints (one checkpointer per deployment is enough)
  const verify = servesApi ? await openCheckpoints(stack, ctx, d.audit) : undefined;
  const worker = config.role !== 'api' ? await openWorker(stack, ctx, d) : undefined;
  const api = verify !== undefined ? await openApi(stack, ctx, d, verify) : undefined;
  await worker?.start();
  // a worker sweeps unreferenced artifacts on a schedule (one of the deployment's at a time)
  if (worker !== undefined) scheduleArtifactGc(stack, ctx, d);
  const owned = stack.move();
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= owned.disposeAsync().catch((err: unknown) => ctx.logger.warn({ err }, 'a close step failed'));
    return closing;
  };
  return {
    config,
    app: api?.app,
    url: api?.url,
    worker,
    keys: d.keys,
    bootstrapKey: api?.bootstrapKey,
    review: api?.review,
    metrics,
    close,
    [Symbol.asyncDispose]: close,
  };
}
