/**
 * Which audit action and target an API request is. One table; a route not in it is audited
 * as `request`. Routes are fastify patterns (`/v1/jobs/:id`), so ids never enter the lookup.
 */
import type { AuditAction } from '../audit/index.js';
import { idPattern } from '../shared/index.js';

const ROUTE_ACTIONS: Readonly<Record<string, AuditAction>> = {
  'POST /v1/jobs': 'job.submit',
  'GET /v1/jobs/:id': 'job.read',
  'DELETE /v1/jobs/:id': 'job.cancel',
  'GET /v1/jobs/:id/audit': 'audit.read',
  'POST /v1/keys': 'key.create',
  'GET /v1/keys': 'key.list',
  'DELETE /v1/keys/:id': 'key.revoke',
  'GET /v1/audit': 'audit.read',
  'GET /v1/audit/verify': 'audit.verify',
  'POST /v1/credentials/introspect': 'credential.introspect',
  'GET /v1/capabilities': 'capabilities.read',
  'POST /v1/jobs/:id/promotions': 'promotion.request',
  'GET /v1/promotions': 'promotion.read',
  'GET /v1/promotions/:id': 'promotion.read',
  'GET /v1/promotions/:id/artifacts.tar': 'promotion.read',
  'GET /v1/promotions/:id/patch': 'promotion.read',
  'GET /v1/promotions/:id/audit': 'audit.read',
  'POST /v1/promotions/:id/decisions': 'review.decision',
  'POST /v1/promotions/:id/retry': 'promotion.retry',
};

/** Actions that change state: the audit log must answer before their handler runs. */
export const MUTATING_ACTIONS: ReadonlySet<AuditAction> = new Set([
  'job.submit',
  'job.cancel',
  'key.create',
  'key.revoke',
  'promotion.request',
  'review.decision',
  'promotion.retry',
]);

/** Routes that are not audited: unauthenticated liveness/readiness probes (see README, "Audit log"). */
export const UNAUDITED_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

export const JOB_ID = idPattern('job');
export const KEY_ID = /^key_[0-9a-f]{16}$/;
export const PROMOTION_ID = idPattern('prm');

/** `route` is the matched pattern, undefined for an unknown route. HEAD is audited as its GET. */
export function auditActionOf(method: string, route: string | undefined): AuditAction {
  if (route === undefined) return 'request';
  const m = method === 'HEAD' ? 'GET' : method;
  const exact = ROUTE_ACTIONS[`${m} ${route}`];
  if (exact !== undefined) return exact;
  // a job's other read routes (artifacts, logs, …) are reads of that job
  if (m === 'GET' && route.startsWith('/v1/jobs/:id/')) return 'job.read';
  return 'request';
}

/** The object a route parameter names: its kind (which visibility rule applies) and id. */
export interface AuditTarget {
  readonly kind: 'job' | 'key' | 'promotion';
  readonly id: string;
}

/**
 * The object a request is about, from its route parameter, only when it is a well-formed id:
 * an arbitrary string from an anonymous caller never becomes an index key. Whether the
 * record may name it is the audit hook's question (only for a key that may see it).
 */
export function targetFromParams(route: string | undefined, params: unknown): AuditTarget | null {
  if (route === undefined || params === null || typeof params !== 'object') return null;
  const id = (params as Record<string, unknown>)['id'];
  if (typeof id !== 'string') return null;
  if (route.startsWith('/v1/jobs/:id')) return JOB_ID.test(id) ? { kind: 'job', id } : null;
  if (route.startsWith('/v1/keys/:id')) return KEY_ID.test(id) ? { kind: 'key', id } : null;
  if (route.startsWith('/v1/promotions/:id')) return PROMOTION_ID.test(id) ? { kind: 'promotion', id } : null;
  return null;
}
