/** An audit event about one job, written by a worker: the worker is the actor, the job the target. */
import type { AuditEvent } from '../audit/index.js';

export function workerEvent(workerId: string, action: AuditEvent['action'], jobId: string, rest: Omit<AuditEvent, 'action' | 'actor' | 'target'>): AuditEvent {
  return { actor: { type: 'worker', workerId }, action, target: jobId, ...rest };
}
