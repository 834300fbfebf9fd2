/**
 * GET /v1/operations (admin): what the console's operations view shows — jobs by status over
 * time, queue depth and wait, workers and their warm pools, tool calls per tool and per key,
 * refused requests, anomalies and throttling (when the monitor records them), and the audit
 * chain's state (head, last signed checkpoint, last verify run through this API process). All
 * of it from the audit log's window and the workers' heartbeats: nothing here is kept apart.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AUDIT_ACTIONS, queryAudit, QUERY_MAX_LIMIT, type AuditRecord, type RedisAuditStore, type VerifyResult } from '../../audit/index.js';
import type { JobProducer, WorkerRegistry } from '../../queue/index.js';
import type { Clock } from '../../shared/index.js';
import { requireRole } from '../auth.js';
import { parseWith } from '../job-request-schema.js';
import { isAnomalyAction, summarise } from '../operations-summary.js';
import { audited, JOB_ID } from '../route-audit.js';

export interface OperationsRoutesDeps {
  store: RedisAuditStore;
  producer: JobProducer;
  workers: WorkerRegistry;
  verify: RememberedVerify;
  clock: Clock;
}

/** Records read per view at most (the newest of the window are kept; `truncated` says so). */
export const WINDOW_RECORDS_MAX = 5000;
/** Jobs whose owner is looked up for the per-key tool counts. */
const OWNERS_LOOKED_UP = 200;

const Query = z.strictObject({ hours: z.coerce.number().min(0.25).max(24).default(1) });

/** verify, remembering its last result and when it ran (the operations view and /metrics show it); callers during a run share it. */
export interface RememberedVerify {
  run(): Promise<VerifyResult>;
  last(): { at: string; result: VerifyResult } | null;
}

export function rememberVerify(verify: () => Promise<VerifyResult>, clock: Clock): RememberedVerify {
  let last: { at: string; result: VerifyResult } | null = null;
  let running: Promise<VerifyResult> | undefined;
  return {
    run() {
      running ??= verify()
        .then((result) => {
          last = { at: new Date(clock.now()).toISOString(), result };
          return result;
        })
        .finally(() => (running = undefined));
      return running;
    },
    last: () => last,
  };
}

export function operationsRoutes(app: FastifyInstance, deps: OperationsRoutesDeps): void {
  app.get('/v1/operations', audited('audit.read'), async (req) => {
    requireRole(req, 'admin');
    const { hours } = parseWith(Query, req.query);
    const untilMs = deps.clock.now();
    const sinceMs = untilMs - hours * 3_600_000;
    const [window, queue, workers, head, base, checkpoint] = await Promise.all([
      readWindow(deps.store, sinceMs),
      deps.producer.counts(),
      deps.workers.live(),
      deps.store.head(),
      deps.store.base(),
      deps.store.lastCheckpoint(),
    ]);
    const owners = await ownersOf(deps.producer, window.records);
    const summary = summarise(window.records, sinceMs, untilMs, owners);
    return operationsView({ sinceMs, untilMs, window, queue, workers, summary, head, base, checkpoint, lastVerify: deps.verify.last() });
  });
}

/** What GET /v1/operations read, before it is shaped into its body. */
export interface OperationsReads {
  readonly sinceMs: number;
  readonly untilMs: number;
  readonly window: { readonly records: readonly AuditRecord[]; readonly truncated: boolean };
  readonly queue: Awaited<ReturnType<JobProducer['counts']>>;
  readonly workers: Awaited<ReturnType<WorkerRegistry['live']>>;
  readonly summary: ReturnType<typeof summarise>;
  readonly head: Awaited<ReturnType<RedisAuditStore['head']>>;
  readonly base: Awaited<ReturnType<RedisAuditStore['base']>>;
  readonly checkpoint: Awaited<ReturnType<RedisAuditStore['lastCheckpoint']>>;
  readonly lastVerify: ReturnType<RememberedVerify['last']>;
}

/** The body of GET /v1/operations (the console's operations view reads it). */
export function operationsView(r: OperationsReads) {
  return {
    window: { since: new Date(r.sinceMs).toISOString(), until: new Date(r.untilMs).toISOString(), records: r.window.records.length, truncated: r.window.truncated },
    queue: r.queue,
    workers: r.workers.map((w) => ({ workerId: w.workerId, startedAt: w.startedAt, at: w.at, engineOk: w.engineOk, isolation: w.isolation ?? ['container'], pool: w.pool ?? {} })),
    ...r.summary,
    anomalies: { available: AUDIT_ACTIONS.some(isAnomalyAction), records: r.summary.anomalies },
    audit: {
      head: { seq: r.head.seq, time: r.head.time },
      base: { seq: r.base.seq },
      lastCheckpoint: r.checkpoint === null ? null : { seq: r.checkpoint.seq, time: r.checkpoint.time },
      lastVerify: r.lastVerify,
    },
  };
}

/** The window's records oldest first; past WINDOW_RECORDS_MAX only the newest are kept. */
async function readWindow(store: RedisAuditStore, sinceMs: number): Promise<{ records: AuditRecord[]; truncated: boolean }> {
  const newestFirst: AuditRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await queryAudit(store, { since: sinceMs, order: 'desc', limit: QUERY_MAX_LIMIT, ...(cursor !== undefined ? { cursor } : {}) });
    newestFirst.push(...page.records);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && newestFirst.length < WINDOW_RECORDS_MAX);
  return { records: newestFirst.slice(0, WINDOW_RECORDS_MAX).reverse(), truncated: cursor !== undefined };
}

/** The submitting key of each job that called a tool (jobs whose record expired are left out). */
async function ownersOf(producer: JobProducer, records: readonly AuditRecord[]): Promise<Map<string, string>> {
  const jobs = [...new Set(records.filter((r) => r.action === 'gateway.call' && r.target !== null && JOB_ID.test(r.target)).map((r) => r.target as string))].slice(
    0,
    OWNERS_LOOKED_UP,
  );
  const out = new Map<string, string>();
  for (const [i, rec] of (await Promise.all(jobs.map((id) => producer.get(id)))).entries()) {
    const id = jobs[i];
    if (rec !== undefined && id !== undefined) out.set(id, rec.ownerKeyId);
  }
  return out;
}
