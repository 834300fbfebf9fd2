/**
 * A call report as an audit event for action `gateway.call` (the worker appends it). Built
 * structurally so the gateway does not depend on the audit module; the shape matches
 * AuditEvent. Holds the token's jti, never the token, and never a secret.
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
