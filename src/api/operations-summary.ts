/**
 * The operations view's figures, from one window of audit records (pure: the route reads the
 * records, this sums them). Everything an operator sees here is also a query on the audit log,
 * so each figure carries the filter that lists its records.
 */
import type { AuditRecord } from '../audit/index.js';

/** Width of one bar of the jobs-over-time chart. */
export const BUCKET_MS = 5 * 60_000;
/** Refused requests listed one by one (the newest); the rest are only counted. */
const REFUSED_LISTED = 25;

export interface ToolCallCounts {
  readonly tool: string;
  readonly outcome: string;
  /** The owning key of the calling jobs (null: the job's record has expired). */
  readonly keyId: string | null;
  count: number;
}

export interface OperationsSummary {
  /** Job ends per bucket (start of the bucket, ISO) and status; submissions per bucket. */
  readonly jobs: { readonly bucketMs: number; readonly buckets: { at: string; submitted: number; finished: Record<string, number> }[]; readonly totals: Record<string, number> };
  /** From each job's submit to its (first) start, within the window: in milliseconds. */
  readonly queueWaitMs: { readonly count: number; readonly p50: number | null; readonly p95: number | null; readonly max: number | null };
  readonly toolCalls: ToolCallCounts[];
  readonly refused: { readonly byStatus: Record<string, number>; readonly recent: RefusedRequest[] };
  /** Records of actions about anomalies and throttling (none until the monitor raises them). */
  readonly anomalies: AuditRecord[];
}

export interface RefusedRequest {
  readonly seq: number;
  readonly time: string;
  readonly action: string;
  readonly status: number;
  readonly error: string | null;
  readonly keyId: string | null;
  readonly route: string | null;
}

/** Actions that report anomalies or throttled keys, once the monitor records them. */
export const isAnomalyAction = (action: string): boolean => action.startsWith('anomaly') || action.startsWith('limit') || action.includes('throttl');

/** Sums the window's records (oldest first); `ownerOf` maps a job id to the key that submitted it. */
export function summarise(records: readonly AuditRecord[], sinceMs: number, untilMs: number, ownerOf: ReadonlyMap<string, string>): OperationsSummary {
  const buckets = new Map<number, { at: string; submitted: number; finished: Record<string, number> }>();
  for (let t = Math.floor(sinceMs / BUCKET_MS) * BUCKET_MS; t <= untilMs; t += BUCKET_MS) buckets.set(t, { at: new Date(t).toISOString(), submitted: 0, finished: {} });
  const bucketOf = (r: AuditRecord) => buckets.get(Math.floor(Date.parse(r.time) / BUCKET_MS) * BUCKET_MS);
  const totals: Record<string, number> = {};
  const submittedAt = new Map<string, number>();
  const waits: number[] = [];
  const tools = new Map<string, ToolCallCounts>();
  const byStatus: Record<string, number> = {};
  const recent: RefusedRequest[] = [];
  const anomalies: AuditRecord[] = [];
  for (const r of records) {
    const b = bucketOf(r);
    if (r.action === 'job.submit' && r.target !== null && (r.outcome?.status ?? 200) < 400) {
      if (b !== undefined) b.submitted += 1;
      submittedAt.set(r.target, Date.parse(r.time));
    } else if (r.action === 'job.start' && r.target !== null) {
      const at = submittedAt.get(r.target);
      if (at !== undefined) waits.push(Date.parse(r.time) - at);
      submittedAt.delete(r.target);
    } else if (r.action === 'job.finish') {
      const status = r.outcome?.result ?? 'unknown';
      if (b !== undefined) b.finished[status] = (b.finished[status] ?? 0) + 1;
      totals[status] = (totals[status] ?? 0) + 1;
    } else if (r.action === 'gateway.call') {
      countToolCalls(tools, r, r.target === null ? null : (ownerOf.get(r.target) ?? null));
    }
    if (isAnomalyAction(r.action)) anomalies.push(r);
    const status = r.outcome?.status;
    if (status === undefined || status < 400) continue;
    byStatus[String(status)] = (byStatus[String(status)] ?? 0) + 1;
    const keyId = r.actor.type === 'key' ? r.actor.keyId : null;
    recent.push({ seq: r.seq, time: r.time, action: r.action, status, error: r.outcome?.error ?? null, keyId, route: r.request?.route ?? null });
  }
  waits.sort((a, b) => a - b);
  const at = (q: number) => (waits.length === 0 ? null : (waits[Math.min(waits.length - 1, Math.floor(q * waits.length))] ?? null));
  return {
    jobs: { bucketMs: BUCKET_MS, buckets: [...buckets.values()], totals },
    queueWaitMs: { count: waits.length, p50: at(0.5), p95: at(0.95), max: waits.at(-1) ?? null },
    toolCalls: [...tools.values()].sort((a, b) => b.count - a.count),
    refused: { byStatus, recent: recent.slice(-REFUSED_LISTED).reverse() },
    anomalies: anomalies.slice(-REFUSED_LISTED).reverse(),
  };
}

/** A forwarded call is one record; refused calls come as one summary per window, with counts per tool. */
function countToolCalls(into: Map<string, ToolCallCounts>, r: AuditRecord, keyId: string | null): void {
  const add = (tool: string, outcome: string, n: number) => {
    const id = `${tool}\u0000${outcome}\u0000${keyId ?? ''}`;
    const c = into.get(id) ?? { tool, outcome, keyId, count: 0 };
    c.count += n;
    into.set(id, c);
  };
  const d = r.details ?? {};
  if (d['summary'] === true) {
    const perTool = (d['tools'] ?? {}) as Record<string, unknown>;
    const entries = Object.entries(perTool).filter((e): e is [string, number] => typeof e[1] === 'number');
    if (entries.length === 0) add('(none named)', 'refused', typeof d['count'] === 'number' ? d['count'] : 1);
    for (const [tool, n] of entries) add(tool, 'refused', n);
    return;
  }
  add(typeof d['tool'] === 'string' ? d['tool'] : '(none named)', r.outcome?.result ?? 'unknown', 1);
}
