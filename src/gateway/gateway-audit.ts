/**
 * Gateway calls as audit events for action `gateway.call`. Built structurally so the gateway
 * does not depend on the audit module; the shape matches AuditEvent. Holds the token's jti,
 * never the token, and never a secret.
 *
 * A call the gateway forwarded keeps one record of its own. Calls it refused before
 * forwarding are what a job can make by the hundred per second, so they are summed instead:
 * one record per window (GatewayAuditRecorder), with the count, each outcome and reason
 * counted, and the first and last time. A flood costs one record per window, not one per call.
 */
import type { GatewayCallReport } from './tool-gateway.js';

export function gatewayCallAuditEvent(report: GatewayCallReport, workerId: string) {
  return {
    actor: { type: 'worker' as const, workerId },
    action: 'gateway.call' as const,
    target: report.jobId,
    request: { method: report.method || '?', route: report.url ?? '' },
    outcome: { status: report.status, result: report.outcome },
    bytes: { request: report.requestBytes, response: report.responseBytes },
    durationMs: report.durationMs,
    details: {
      tool: report.tool,
      jti: report.jti,
      ...(report.reason === undefined ? {} : { reason: report.reason }),
    },
  };
}

/** Distinct keys kept per counted field of a summary; the rest are counted under `other`. */
const MAX_DISTINCT = 16;
const MAX_KEY_CHARS = 80;

interface RefusedWindow {
  count: number;
  firstMs: number;
  lastMs: number;
  requestBytes: number;
  outcomes: Record<string, number>;
  reasons: Record<string, number>;
  tools: Record<string, number>;
}

function bump(counts: Record<string, number>, key: string): void {
  const k = key.slice(0, MAX_KEY_CHARS);
  if (Object.hasOwn(counts, k) || Object.keys(counts).length < MAX_DISTINCT) counts[k] = (counts[k] ?? 0) + 1;
  else counts['other'] = (counts['other'] ?? 0) + 1;
}

/** One summary record for the calls refused in a window. */
export function refusedCallsAuditEvent(jobId: string, workerId: string, w: RefusedWindow) {
  return {
    actor: { type: 'worker' as const, workerId },
    action: 'gateway.call' as const,
    target: jobId,
    outcome: { result: 'refused' },
    bytes: { request: w.requestBytes, response: 0 },
    details: {
      summary: true,
      count: w.count,
      outcomes: w.outcomes,
      reasons: w.reasons,
      tools: w.tools,
      firstAt: new Date(w.firstMs).toISOString(),
      lastAt: new Date(w.lastMs).toISOString(),
    },
  };
}

export type GatewayAuditEvent = ReturnType<typeof gatewayCallAuditEvent> | ReturnType<typeof refusedCallsAuditEvent>;

export interface GatewayAuditRecorderOptions {
  readonly jobId: string;
  readonly workerId: string;
  /** Appends one event (the audit store's append). */
  readonly append: (event: GatewayAuditEvent) => Promise<unknown>;
  /** How long refused calls are summed before their record is written (default 10 s). */
  readonly windowMs?: number;
  readonly now?: () => number;
  /** A record that could not be written (the worker logs it). */
  readonly onError?: (err: unknown) => void;
}

/** Turns a gateway's call reports into audit records: forwarded calls one each, refused calls one summary per window. */
export class GatewayAuditRecorder {
  private window: RefusedWindow | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: GatewayAuditRecorderOptions) {
    this.windowMs = opts.windowMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** The gateway's `onCall`. The returned promise settles when a forwarded call's record is written. */
  record(report: GatewayCallReport): Promise<void> {
    if (report.forwarded) return this.write(gatewayCallAuditEvent(report, this.opts.workerId));
    const nowMs = this.now();
    const w = (this.window ??= { count: 0, firstMs: nowMs, lastMs: nowMs, requestBytes: 0, outcomes: {}, reasons: {}, tools: {} });
    w.count++;
    w.lastMs = nowMs;
    w.requestBytes += report.requestBytes;
    bump(w.outcomes, report.outcome);
    if (report.reason !== undefined) bump(w.reasons, report.reason);
    if (report.tool !== null) bump(w.tools, report.tool);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.windowMs);
      this.timer.unref();
    }
    return Promise.resolve();
  }

  /** Writes the open window's summary now. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const w = this.window;
    this.window = undefined;
    return w === undefined ? Promise.resolve() : this.write(refusedCallsAuditEvent(this.opts.jobId, this.opts.workerId, w));
  }

  /** Flushes the open window and waits for every record. Call it after the gateway has closed. */
  async close(): Promise<void> {
    await this.flush();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private write(event: GatewayAuditEvent): Promise<void> {
    const p: Promise<void> = this.opts
      .append(event)
      .then(
        () => undefined,
        (err: unknown) => this.opts.onError?.(err),
      )
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
    return p;
  }
}
