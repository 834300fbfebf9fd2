/**
 * The one list of audit actions. A record's `action` is always one of these; adding an
 * action is one line here (and, for reserved ones, the module that starts emitting it).
 */
export const AUDIT_ACTIONS = [
  // jobs
  'job.submit', // an agent submitted code (api)
  'job.start', // a worker took the job and started its container
  'job.finish', // the job reached a terminal state (outcome.result names it)
  'job.cancel', // someone asked to cancel a job
  'job.read', // a job's status, result or artifacts were read
  // API keys
  'key.create',
  'key.revoke',
  'key.list',
  'key.update', // a key's own limits were changed (airlock keys update)
  'key.unthrottle', // an admin lifted a key's anomaly throttle
  // access control
  'auth.denied', // a request was refused: missing/invalid key or insufficient role
  'request', // any API call that has no more specific action above
  // limits and anomalous traffic (issue 15)
  'ratelimit.refused', // a limit refused a request or a job (summed per key or address and limit per window)
  'anomaly.detected', // a key's behaviour deviated over 3σ from its baseline
  'anomaly.throttled', // the key was throttled to its baseline rates for a while
  'anomaly.read', // anomalies were listed
  // the audit log itself
  'audit.read',
  'audit.verify',
  'audit.export',
  'audit.trim', // retention exported a segment and removed it from Redis
  // job credentials and the tool gateway (issue 5)
  'credential.mint',
  'credential.revoke',
  'credential.introspect',
  'credential.rotate', // a worker host signs job tokens with a new key (airlock credentials rotate)
  'capabilities.read',
  'gateway.call',
  // promotions to staging and their review (issue 6)
  'promotion.request', // a promotion was requested (its first state: pending_review, or approved when automatic)
  'promotion.transition', // a promotion changed state (approved, promoted, rejected, expired, failed, superseded)
  'promotion.escalate', // a review went without quorum past its escalation time
  'promotion.read', // promotions were listed or one was read
  'promotion.retry', // an admin sent a failed promotion back to be applied
  'review.decision', // a reviewer approved or rejected (also refused attempts: self-approval, wrong digest)
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];
