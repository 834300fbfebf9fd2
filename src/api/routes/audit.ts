/**
 * Reading the audit log over the API: query (admin), verify (admin), and one job's records
 * (its submitter or an admin; the submitter sees its own and the system's records, not what
 * other keys did). Reviewers read the trail of a promotion they may see through
 * GET /v1/promotions/:id/audit (routes/promotions.ts).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AUDIT_ACTIONS, QUERY_MAX_LIMIT, queryAudit, type ActorFilter, type AuditRecord, type RedisAuditStore, type VerifyResult } from '../../audit/index.js';
import type { JobProducer } from '../../queue/index.js';
import { AppError } from '../../shared/index.js';
import { ANONYMOUS_KEY_ID } from '../audit-event.js';
import { requireRole } from '../auth.js';
import { parseWith } from '../job-request-schema.js';
import { audited, JOB_ID, KEY_ID } from '../route-audit.js';
import { mayReadJob } from './jobs.js';

export interface AuditRoutesDeps {
  store: RedisAuditStore;
  /** Runs verifyChain over the whole log (segments, Redis, signed checkpoints). */
  verify: () => Promise<VerifyResult>;
  producer: JobProducer;
}

const isoTime = z.string().refine((s) => /^\d{4}-\d\d-\d\d/.test(s) && Number.isFinite(Date.parse(s)), 'must be an ISO 8601 time');
const Page = {
  limit: z.coerce.number().int().min(1).max(QUERY_MAX_LIMIT).optional(),
  cursor: z.string().min(1).max(200).optional(),
  order: z.enum(['asc', 'desc']).optional(),
};
const AuditQueryParams = z.strictObject({
  actor: z.string().min(1).max(200).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  target: z.string().min(1).max(200).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  ...Page,
});
const JobAuditParams = z.strictObject(Page);

/** `key_…`, `anonymous` (refused unauthenticated requests), `system`, or `worker:<worker id>`. */
export function parseActor(value: string): ActorFilter {
  if (value === 'system') return { type: 'system' };
  if (value === ANONYMOUS_KEY_ID) return { type: 'key', keyId: value };
  if (KEY_ID.test(value)) return { type: 'key', keyId: value };
  const worker = /^worker:(.+)$/.exec(value)?.[1];
  if (worker !== undefined) return { type: 'worker', workerId: worker };
  throw new AppError('INVALID_REQUEST', 'actor must be a key id (key_…), anonymous, system or worker:<id>', { details: { field: 'actor' } });
}

export function auditRoutes(app: FastifyInstance, deps: AuditRoutesDeps): void {
  app.get('/v1/audit', audited('audit.read'), async (req) => {
    requireRole(req, 'admin');
    const { actor, ...rest } = parseWith(AuditQueryParams, req.query);
    return queryAudit(deps.store, { ...rest, ...(actor !== undefined ? { actor: parseActor(actor) } : {}) });
  });

  app.get('/v1/audit/verify', audited('audit.verify'), async (req) => {
    requireRole(req, 'admin');
    return deps.verify();
  });

  /** Oldest first. Another key's job is a 404, like the job routes. */
  app.get('/v1/jobs/:id/audit', audited('audit.read', { target: 'job' }), async (req) => {
    const key = requireRole(req, 'agent', 'admin');
    const id = (req.params as { id?: string }).id ?? '';
    const q = parseWith(JobAuditParams, req.query);
    const notFound = () => new AppError('JOB_NOT_FOUND', 'no such job');
    if (!JOB_ID.test(id)) throw notFound();
    const job = await deps.producer.get(id);
    // an admin may read the records of a job whose record has expired (records outlive jobs)
    if (job === undefined ? key.role !== 'admin' : !mayReadJob(key, job)) throw notFound();
    // an owner sees what it did and what the system did (worker, CLI), not other keys' requests
    const visible = key.role === 'admin' ? undefined : (r: AuditRecord) => r.actor.type !== 'key' || r.actor.keyId === key.id;
    const page = await queryAudit(deps.store, { target: id, order: 'asc', ...q }, visible);
    if (job === undefined && page.records.length === 0) throw notFound();
    return { jobId: id, ...page };
  });
}
