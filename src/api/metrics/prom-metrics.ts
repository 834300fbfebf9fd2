/**
 * The metrics port (shared/metrics.ts) over prom-client, with a registry of its own (no global
 * one: two Airlocks in one test process keep their counts apart). Counters and histograms move as
 * things happen in this process; the deployment-wide gauges (queue depth, live workers, warm pools,
 * promotions waiting) are read from Redis at each scrape (`refresh`).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkerBeat } from '../../queue/index.js';
import type { Metrics, MetricsAuditEvent } from '../../shared/index.js';

/** Seconds: job runs and queue waits span milliseconds to the longest timeout (10 min). */
const JOB_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds: a sandbox start, an audit append, an HTTP answer. */
const FAST_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What a scrape reads from the deployment (Redis) rather than from this process. */
export interface DeploymentSnapshot {
  /** BullMQ counts: waiting, active, delayed, failed. */
  readonly queue: Readonly<Record<string, number>>;
  readonly workers: readonly Pick<WorkerBeat, 'engineOk' | 'pool'>[];
  /** Promotions per state (only states the snapshot counted). */
  readonly promotions: Readonly<Record<string, number>>;
  /** The last verify of the audit chain by this API process: when (ms) and whether it held; null before the first. */
  readonly lastVerify: { readonly atMs: number; readonly ok: boolean } | null;
}

/** The pool figures summed over the workers (the rest of a worker's pool state is not a count). */
const POOL_COUNTS = ['target', 'ready', 'creating', 'hits', 'waited', 'misses'] as const;
type PoolCounts = Record<(typeof POOL_COUNTS)[number], number>;

const seconds = (ms: number) => Math.max(0, ms) / 1000;
/** Jobs whose profile is remembered between their start and finish records (a worker runs a handful at once). */
const REMEMBERED_JOBS = 10_000;
const countOf = (d: Readonly<Record<string, unknown>>): number => (typeof d['count'] === 'number' && d['count'] > 0 ? d['count'] : 1);
const numbers = (v: unknown): [string, number][] =>
  v !== null && typeof v === 'object' ? Object.entries(v).filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > 0) : [];

export class PromMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly c = counters(this.registry);
  private readonly h = histograms(this.registry);
  private readonly g = gauges(this.registry);
  /** Job → profile, from its job.start (job.finish does not name the profile); forgotten at the finish, bounded. */
  private readonly profiles = new Map<string, string>();

  auditAppended(event: MetricsAuditEvent, ok: boolean, ms: number): void {
    this.h.auditAppend.observe({ outcome: ok ? 'ok' : 'failed' }, seconds(ms));
    if (!ok) return void this.c.auditFailures.inc({ action: event.action });
    this.c.auditRecords.inc({ action: event.action });
    this.fromRecord(event);
  }

  sandboxStarted(ms: number): void {
    this.h.sandboxStart.observe(seconds(ms));
  }

  httpRequest(method: string, route: string, status: number, ms: number): void {
    this.c.httpRequests.inc({ method, route, status: String(status) });
    this.h.httpDuration.observe({ method, route }, seconds(ms));
  }

  /** What a written record says happened. */
  private fromRecord(e: MetricsAuditEvent): void {
    const result = e.outcome?.result;
    const d = e.details ?? {};
    switch (e.action) {
      case 'job.start': {
        const profile = e.request?.route ?? '';
        if (e.target != null) this.remember(e.target, profile);
        this.c.jobsStarted.inc({ profile });
        if (typeof d['queueWaitMs'] === 'number') this.h.queueWait.observe({ profile }, seconds(d['queueWaitMs']));
        return;
      }
      case 'job.finish': {
        const profile = (e.target != null ? this.profiles.get(e.target) : undefined) ?? '';
        if (e.target != null) this.profiles.delete(e.target);
        const status = result ?? 'unknown';
        this.c.jobsFinished.inc({ profile, status });
        if (e.durationMs !== undefined) this.h.jobDuration.observe({ profile, status }, seconds(e.durationMs));
        if (status === 'policy_violation') this.c.policyViolations.inc({ profile });
        return;
      }
      case 'gateway.call':
        return this.toolCalls(e);
      case 'promotion.request':
      case 'promotion.transition':
        if (result !== undefined) this.c.promotionTransitions.inc({ to: result });
        return;
      case 'ratelimit.refused':
        this.c.rateLimited.inc({ scope: typeof d['limit'] === 'string' ? d['limit'] : 'unknown' }, countOf(d));
        return;
      case 'anomaly.detected':
        this.c.anomalies.inc({ kind: typeof d['metric'] === 'string' ? d['metric'] : 'unknown' });
        return;
      default:
        return;
    }
  }

  /** A forwarded call is one record; refused ones come summed per window, with counts per tool. */
  private toolCalls(e: MetricsAuditEvent): void {
    const d = e.details ?? {};
    if (d['summary'] !== true) {
      const outcome = e.outcome?.result ?? 'unknown';
      this.c.toolCalls.inc({ tool: typeof d['tool'] === 'string' ? d['tool'] : '', outcome });
      return;
    }
    const outcomes = numbers(d['outcomes']);
    for (const [outcome, n] of outcomes) {
      this.c.toolCalls.inc({ tool: '', outcome }, n);
      if (outcome === 'rate_limited') this.c.rateLimited.inc({ scope: 'gateway' }, n);
    }
    if (outcomes.length === 0) this.c.toolCalls.inc({ tool: '', outcome: 'refused' }, countOf(d));
  }

  private remember(jobId: string, profile: string): void {
    if (this.profiles.size >= REMEMBERED_JOBS) {
      const oldest = this.profiles.keys().next();
      if (oldest.done !== true) this.profiles.delete(oldest.value);
    }
    this.profiles.set(jobId, profile);
  }

  /** Sets the deployment-wide gauges from one snapshot read at scrape time. */
  refresh(s: DeploymentSnapshot): void {
    for (const state of ['waiting', 'active', 'delayed', 'failed']) this.g.queueJobs.set({ state }, s.queue[state] ?? 0);
    this.g.workers.reset();
    this.g.workers.set({ engine: 'ok' }, s.workers.filter((w) => w.engineOk).length);
    this.g.workers.set({ engine: 'unreachable' }, s.workers.filter((w) => !w.engineOk).length);
    this.g.poolContainers.reset();
    this.g.poolClaimsLive.reset();
    const sums = new Map<string, PoolCounts>();
    for (const w of s.workers)
      for (const [pool, p] of Object.entries(w.pool ?? {})) {
        const t = sums.get(pool) ?? { target: 0, ready: 0, creating: 0, hits: 0, waited: 0, misses: 0 };
        for (const c of POOL_COUNTS) t[c] += p[c];
        sums.set(pool, t);
      }
    for (const [pool, p] of sums) {
      for (const state of ['target', 'ready', 'creating'] as const) this.g.poolContainers.set({ pool, state }, p[state]);
      this.g.poolClaimsLive.set({ pool, result: 'hit' }, p.hits);
      this.g.poolClaimsLive.set({ pool, result: 'waited' }, p.waited);
      this.g.poolClaimsLive.set({ pool, result: 'miss' }, p.misses);
    }
    this.g.promotions.reset();
    for (const [state, n] of Object.entries(s.promotions)) this.g.promotions.set({ state }, n);
    if (s.lastVerify !== null) {
      this.g.verifyOk.set(s.lastVerify.ok ? 1 : 0);
      this.g.verifyAt.set(s.lastVerify.atMs / 1000);
    }
  }

  /** The Prometheus text exposition (version 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function counters(registers: Registry) {
  const r = [registers];
  return {
    jobsStarted: new Counter({ name: 'airlock_jobs_started_total', help: 'Job runs started (job.start records), by profile', labelNames: ['profile'], registers: r }),
    jobsFinished: new Counter({
      name: 'airlock_jobs_finished_total',
      help: 'Jobs that reached a terminal state (job.finish records), by profile and status; profile empty when this process did not see the start',
      labelNames: ['profile', 'status'],
      registers: r,
    }),
    policyViolations: new Counter({ name: 'airlock_policy_violations_total', help: 'Jobs ended as policy_violation, by profile', labelNames: ['profile'], registers: r }),
    toolCalls: new Counter({
      name: 'airlock_tool_calls_total',
      help: 'Tool gateway calls by tool and outcome (allowed or the refusal code)',
      labelNames: ['tool', 'outcome'],
      registers: r,
    }),
    auditRecords: new Counter({ name: 'airlock_audit_records_total', help: 'Audit records written by this process, by action', labelNames: ['action'], registers: r }),
    auditFailures: new Counter({
      name: 'airlock_audit_append_failures_total',
      help: 'Audit appends that failed (AUDIT_UNAVAILABLE), by action',
      labelNames: ['action'],
      registers: r,
    }),
    promotionTransitions: new Counter({
      name: 'airlock_promotion_transitions_total',
      help: 'Promotions entering a state (requests included), by state',
      labelNames: ['to'],
      registers: r,
    }),
    rateLimited: new Counter({
      name: 'airlock_rate_limited_total',
      help: 'Requests, jobs and tool calls refused by a limit, by limit (gateway: a job’s tool-call rate)',
      labelNames: ['scope'],
      registers: r,
    }),
    anomalies: new Counter({ name: 'airlock_anomalies_total', help: 'Anomalies detected (anomaly.detected records), by baseline metric', labelNames: ['kind'], registers: r }),
    httpRequests: new Counter({
      name: 'airlock_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: r,
    }),
  };
}

function histograms(registers: Registry) {
  const r = [registers];
  return {
    jobDuration: new Histogram({
      name: 'airlock_job_duration_seconds',
      help: 'Run time of finished jobs',
      labelNames: ['profile', 'status'],
      buckets: JOB_BUCKETS_S,
      registers: r,
    }),
    queueWait: new Histogram({
      name: 'airlock_job_queue_wait_seconds',
      help: 'From submission to a worker starting the run',
      labelNames: ['profile'],
      buckets: JOB_BUCKETS_S,
      registers: r,
    }),
    sandboxStart: new Histogram({
      name: 'airlock_sandbox_start_seconds',
      help: 'Cold sandboxes: from create to running (pooled ones were started ahead)',
      buckets: FAST_BUCKETS_S,
      registers: r,
    }),
    auditAppend: new Histogram({ name: 'airlock_audit_append_seconds', help: 'Audit append latency, by outcome', labelNames: ['outcome'], buckets: FAST_BUCKETS_S, registers: r }),
    httpDuration: new Histogram({
      name: 'airlock_http_request_seconds',
      help: 'HTTP answer time, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: FAST_BUCKETS_S,
      registers: r,
    }),
  };
}

function gauges(registers: Registry) {
  const r = [registers];
  return {
    queueJobs: new Gauge({ name: 'airlock_queue_jobs', help: 'Jobs in the queue by BullMQ state (deployment-wide, at scrape)', labelNames: ['state'], registers: r }),
    workers: new Gauge({ name: 'airlock_workers', help: 'Live workers by whether their Docker engine answers (at scrape)', labelNames: ['engine'], registers: r }),
    poolContainers: new Gauge({
      name: 'airlock_pool_containers',
      help: 'Warm pool containers over the live workers: target, ready, creating',
      labelNames: ['pool', 'state'],
      registers: r,
    }),
    poolClaimsLive: new Gauge({
      name: 'airlock_pool_claims',
      help: 'Pool claims reported by the live workers since each started: hit, waited, miss',
      labelNames: ['pool', 'result'],
      registers: r,
    }),
    promotions: new Gauge({ name: 'airlock_promotions', help: 'Promotions by state among the newest 500 (at scrape)', labelNames: ['state'], registers: r }),
    verifyOk: new Gauge({ name: 'airlock_audit_verify_ok', help: 'Whether the last verify of the audit chain by this API process held (1) or found a break (0)', registers: r }),
    verifyAt: new Gauge({ name: 'airlock_audit_verify_timestamp_seconds', help: 'When the last verify of the audit chain by this API process ended (Unix seconds)', registers: r }),
  };
}
