/**
 * A route's audit metadata, declared on the route itself (fastify route `config.audit`, see
 * `audited()`): which action its record is, whether it changes state (its service then appends
 * the record where it mutates, and the HTTP hook records only its refusals), and what kind of
 * object its `:id` names. A request no route declares (an unknown route) is a `request`.
 */
import type { FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { AuditAction } from '../audit/index.js';
import { idPattern } from '../shared/index.js';

export const JOB_ID = idPattern('job');
export const KEY_ID = /^key_[0-9a-f]{16}$/;
export const PROMOTION_ID = idPattern('prm');

/** What a route's `:id` parameter names: which id pattern and visibility rule apply. */
export type TargetKind = 'job' | 'key' | 'promotion';

export interface RouteAudit {
  readonly action: AuditAction;
  /** The route changes state: its service records each mutation (through httpOrigin), the hook its refusals. */
  readonly mutating?: boolean;
  readonly target?: TargetKind;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `unaudited`: unauthenticated liveness/readiness probes only (see docs/audit.md). */
    audit?: RouteAudit | 'unaudited';
  }
}

/** Route options carrying the route's audit metadata: `app.get('/v1/jobs/:id', audited('job.read', { target: 'job' }), …)`. */
export function audited(action: AuditAction, opts: Omit<RouteAudit, 'action'> = {}): RouteShorthandOptions {
  return { config: { audit: { action, ...opts } } };
}

/** A probe: answered without a record. */
export const UNAUDITED: RouteShorthandOptions = { config: { audit: 'unaudited' } };

/** The matched route's metadata; undefined for an unknown route (HEAD carries its GET's). */
export function routeAuditOf(req: FastifyRequest): RouteAudit | 'unaudited' | undefined {
  return req.routeOptions.url === undefined ? undefined : req.routeOptions.config.audit;
}

export function auditActionOf(req: FastifyRequest): AuditAction {
  const audit = routeAuditOf(req);
  return audit === undefined || audit === 'unaudited' ? 'request' : audit.action;
}

const ID_PATTERNS: Readonly<Record<TargetKind, RegExp>> = { job: JOB_ID, key: KEY_ID, promotion: PROMOTION_ID };

/** The object a request's `:id` names. */
export interface AuditTarget {
  readonly kind: TargetKind;
  readonly id: string;
}

/**
 * The object a request is about, from its `:id`, only when it is a well-formed id: an arbitrary
 * string from an anonymous caller never becomes an index key. Whether the record may name it is
 * the audit hook's question (only for a key that may see it).
 */
export function targetFromParams(req: FastifyRequest): AuditTarget | null {
  const audit = routeAuditOf(req);
  if (audit === undefined || audit === 'unaudited' || audit.target === undefined) return null;
  const params = req.params;
  const id = params !== null && typeof params === 'object' ? (params as Record<string, unknown>)['id'] : undefined;
  return typeof id === 'string' && ID_PATTERNS[audit.target].test(id) ? { kind: audit.target, id } : null;
}
