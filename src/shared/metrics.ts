/**
 * The metrics port. One instance per process, made by the composition root and passed in (never
 * a module-level registry); the Prometheus adapter is api/metrics/prom-metrics.ts.
 *
 * Most figures are read off the audit records as they are appended (jobs by status and profile,
 * queue wait, tool calls, promotions, rate-limit refusals, anomalies): every step is an audit
 * record already, so what Prometheus counts is what the audit log holds, and no module counts
 * twice. Only what no record carries is reported on its own: the append itself (latency, failure),
 * a cold sandbox's start, and each HTTP answer. Methods never throw into the caller's path.
 */
export interface Metrics {
  /** One audit append: the event (as handed to the store), whether it was written, and how long it took. */
  auditAppended(event: MetricsAuditEvent, ok: boolean, ms: number): void;
  /** A cold sandbox was created and started (the warm pool's hits and misses come from the workers' heartbeats). */
  sandboxStarted(ms: number): void;
  /** One HTTP request answered: the route's pattern (never the raw URL), method, status and time. */
  httpRequest(method: string, route: string, status: number, ms: number): void;
}

/** The fields of an audit event the metrics read (structurally an AuditEvent: shared imports no module). */
export interface MetricsAuditEvent {
  readonly action: string;
  readonly target?: string | null | undefined;
  readonly request?: { readonly method?: string; readonly route?: string } | undefined;
  readonly outcome?: { readonly status?: number | undefined; readonly result?: string | undefined; readonly error?: string | undefined } | undefined;
  readonly durationMs?: number | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

const ignore = (): void => undefined;

/** Reports nothing: where no metrics are wanted (the command line, tools, most tests). */
export const NO_METRICS: Metrics = { auditAppended: ignore, sandboxStarted: ignore, httpRequest: ignore };
