/**
 * Promotion to staging behind a recorded review. Agents request a promotion of their own
 * finished job; reviewers of the policy's groups decide, naming the exact digest they
 * reviewed; admins retry a failed apply. Everything else (quorum, expiry, apply) is review's.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ArtifactStore } from '../../artifacts/index.js';
import { QUERY_MAX_LIMIT, queryAudit, type RedisAuditStore } from '../../audit/index.js';
import type { ApiKeyInfo, ApiKeyStore } from '../../credentials/index.js';
import { promotableJobOf, type JobProducer } from '../../queue/index.js';
import { isPromotionState, selfApprovalForbidden, type DecisionResult, type Promotion, type PromotionService, type ReviewerKey } from '../../review/index.js';
import { AppError } from '../../shared/index.js';
import { requireRole } from '../auth.js';
import { parseWith } from '../job-request-schema.js';
import { httpOrigin, type HttpAnswer } from '../http-origin.js';
import { audited, JOB_ID, PROMOTION_ID } from '../route-audit.js';

export interface PromotionRoutesDeps {
  review: PromotionService;
  /** A promotion's own audit trail (GET …/audit) for whoever may see the promotion. */
  audit: RedisAuditStore;
  producer: JobProducer;
  keys: ApiKeyStore;
  artifacts: ArtifactStore;
}

const Reason = z.string().trim().min(1, 'a reason is mandatory').max(2000);
const RequestBody = z.strictObject({ target: z.string().min(1).max(64), note: z.string().max(2000).optional() });
/** The promotion request's body (the MCP tool request_promotion derives its schema from it). */
export { RequestBody as PromotionRequestBody };
const DecisionBody = z.strictObject({ decision: z.enum(['approve', 'reject']), reason: Reason, artifactDigest: z.string().min(1).max(200) });
const RetryBody = z.strictObject({ reason: Reason });
const ListQuery = z.strictObject({
  state: z.string().refine(isPromotionState, 'state: pending_review | approved | promoted | rejected | expired | failed | superseded').optional(),
  target: z.string().max(64).optional(),
  jobId: z.string().regex(JOB_ID).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const AuditPage = z.strictObject({ limit: z.coerce.number().int().min(1).max(QUERY_MAX_LIMIT).default(QUERY_MAX_LIMIT), cursor: z.string().min(1).max(200).optional() });

const ALL_ROLES = ['agent', 'reviewer', 'admin', 'service'] as const;

export function promotionRoutes(app: FastifyInstance, deps: PromotionRoutesDeps): void {
  promotionReads(app, deps);
  promotionChanges(app, deps);
}

/** Request, decide, retry: each recorded by review where it changes the promotion (httpOrigin gives the record this request's facts). */
function promotionChanges(app: FastifyInstance, deps: PromotionRoutesDeps): void {
  app.post('/v1/jobs/:id/promotions', audited('promotion.request', { mutating: true, target: 'job' }), async (req, reply) => {
    const key = requireRole(req, 'agent', 'admin');
    const body = parseWith(RequestBody, req.body ?? {});
    const jobId = (req.params as { id?: string }).id ?? '';
    const rec = JOB_ID.test(jobId) ? await deps.producer.get(jobId) : undefined;
    // another key's job is a 404, as on the job routes
    if (rec === undefined || (rec.ownerKeyId !== key.id && key.role !== 'admin')) throw new AppError('JOB_NOT_FOUND', 'no such job');
    const owner = await deps.keys.get(rec.ownerKeyId);
    const input = await deps.producer.getInput(rec.id);
    const p = await deps.review.request(
      promotableJobOf(rec, input, owner?.owner ?? rec.ownerKeyId),
      { target: body.target, ...(body.note !== undefined ? { note: body.note } : {}) },
      reviewerKey(key),
      httpOrigin(req, requested),
    );
    return reply.status(201).send(view(p));
  });

  app.post('/v1/promotions/:id/decisions', audited('review.decision', { mutating: true, target: 'promotion' }), async (req) => {
    const id = promotionId(req);
    const key = await deciderKey(req, deps.review, id);
    const body = parseWith(DecisionBody, req.body ?? {});
    // for the record of a refused decision (self-approval, wrong digest, …); a counted one is recorded by review
    note(req, { promotionId: id, decision: body.decision, artifactDigest: body.artifactDigest, principal: key.owner, reason: body.reason });
    return decided(await deps.review.decide(id, reviewerKey(key), body, httpOrigin(req, decided))).body;
  });

  app.post('/v1/promotions/:id/retry', audited('promotion.retry', { mutating: true, target: 'promotion' }), async (req) => {
    const key = requireRole(req, 'admin');
    const id = promotionId(req);
    const body = parseWith(RetryBody, req.body ?? {});
    note(req, { promotionId: id, reason: body.reason });
    return view(await deps.review.retry(id, reviewerKey(key), body.reason, httpOrigin(req, retried)));
  });
}

function promotionReads(app: FastifyInstance, deps: PromotionRoutesDeps): void {
  app.get('/v1/promotions', audited('promotion.read'), async (req) => {
    const key = requireRole(req, ...ALL_ROLES);
    const q = parseWith(ListQuery, req.query);
    const list = await deps.review.list(reviewerKey(key), {
      limit: q.limit,
      ...(q.state !== undefined && isPromotionState(q.state) ? { state: q.state } : {}),
      ...(q.target !== undefined ? { target: q.target } : {}),
      ...(q.jobId !== undefined ? { jobId: q.jobId } : {}),
    });
    return { promotions: list.map(summary) };
  });

  app.get('/v1/promotions/:id', audited('promotion.read', { target: 'promotion' }), async (req) => {
    const key = requireRole(req, ...ALL_ROLES);
    return view(await deps.review.get(promotionId(req), reviewerKey(key)));
  });

  app.get('/v1/promotions/:id/artifacts.tar', audited('promotion.read', { target: 'promotion' }), async (req, reply) => {
    const key = requireRole(req, ...ALL_ROLES);
    const p = await deps.review.get(promotionId(req), reviewerKey(key));
    const sha = p.snapshot.artifactsTarSha256;
    if (p.artifactKind !== 'artifacts' || sha === null) throw new AppError('ARTIFACT_NOT_FOUND', 'this promotion carries a patch, not artifacts (GET …/patch)');
    const body = await deps.artifacts.read(sha);
    return reply.type('application/x-tar').header('x-artifact-digest', p.artifactDigest).send(body);
  });

  app.get('/v1/promotions/:id/patch', audited('promotion.read', { target: 'promotion' }), async (req, reply) => {
    const key = requireRole(req, ...ALL_ROLES);
    const p = await deps.review.get(promotionId(req), reviewerKey(key));
    if (p.snapshot.patchSha256 === null) throw new AppError('ARTIFACT_NOT_FOUND', 'the job of this promotion had no patch');
    return reply.type('text/x-diff; charset=utf-8').send(await deps.artifacts.read(p.snapshot.patchSha256));
  });

  // the promotion's trail, oldest first: request, decisions (refused ones too), transitions, reads
  app.get('/v1/promotions/:id/audit', audited('audit.read', { target: 'promotion' }), async (req) => {
    const key = requireRole(req, ...ALL_ROLES);
    const p = await deps.review.get(promotionId(req), reviewerKey(key));
    const q = parseWith(AuditPage, req.query);
    const page = await queryAudit(deps.audit, { target: p.id, order: 'asc', limit: q.limit, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) });
    return { promotionId: p.id, ...page };
  });
}

const requested = (p: Promotion): HttpAnswer => ({ status: 201, body: view(p) });
const decided = (r: DecisionResult): HttpAnswer => ({ status: 200, body: { decision: { outcome: r.outcome, approvals: r.approvals }, promotion: view(r.promotion) } });
const retried = (p: Promotion): HttpAnswer => ({ status: 200, body: view(p) });

/** Decisions are taken by reviewer keys; a party to the promotion hears why it may not decide, whatever its role. */
async function deciderKey(req: FastifyRequest, review: PromotionService, id: string): Promise<ApiKeyInfo> {
  const key = requireRole(req, ...ALL_ROLES);
  if (key.role !== 'reviewer' && (await review.isParty(id, reviewerKey(key)))) {
    throw selfApprovalForbidden(key.owner);
  }
  return requireRole(req, 'reviewer');
}

export function reviewerKey(key: ApiKeyInfo): ReviewerKey {
  return { keyId: key.id, principal: key.owner, role: key.role, groups: key.groups };
}

function promotionId(req: FastifyRequest): string {
  const id = (req.params as { id?: string }).id ?? '';
  if (!PROMOTION_ID.test(id)) throw new AppError('PROMOTION_NOT_FOUND', 'no such promotion');
  return id;
}

/** Facts for this request's audit record (the body itself is never recorded). */
function note(req: FastifyRequest, facts: Record<string, unknown>): void {
  if (req.auditState !== null) req.auditState.note = facts;
}

/** One line of GET /v1/promotions. */
export function summary(p: Promotion) {
  return {
    id: p.id,
    state: p.state,
    jobId: p.jobId,
    target: p.target,
    artifactDigest: p.artifactDigest,
    artifactKind: p.artifactKind,
    risk: p.risk,
    requester: p.requester,
    approvals: p.decisions.filter((d) => d.decision === 'approve').length,
    approvalsNeeded: p.requirement.approvals,
    createdAt: p.createdAt,
    deadlineAt: p.deadlineAt,
    escalateAt: p.escalateAt,
    escalatedAt: p.escalatedAt,
    updatedAt: p.updatedAt,
    url: `/v1/promotions/${p.id}`,
  };
}

/** The whole promotion, history included. */
export function view(p: Promotion) {
  return { ...p, url: `/v1/promotions/${p.id}` };
}
