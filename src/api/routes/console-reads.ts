/**
 * The two reads the console needs beyond the REST API it shares with the CLI: who the key is
 * (GET /v1/whoami), and whether it may decide a promotion and if not why
 * (GET /v1/promotions/:id/eligibility: review's own rule, asked before anyone clicks).
 */
import type { FastifyInstance } from 'fastify';
import type { ApiKeyInfo } from '../../credentials/index.js';
import { ineligibleReviewer, type Promotion, type PromotionService } from '../../review/index.js';
import { AppError } from '../../shared/index.js';
import { requireRole } from '../auth.js';
import { audited, PROMOTION_ID } from '../route-audit.js';
import { reviewerKey } from './promotions.js';

const ALL_ROLES = ['agent', 'reviewer', 'admin', 'service'] as const;

export interface Eligibility {
  readonly mayDecide: boolean;
  /** The error code a decision would get now (absent when it may decide). */
  readonly code?: string;
  readonly reason?: string;
}

export function consoleReads(app: FastifyInstance, review: PromotionService): void {
  app.get('/v1/whoami', audited('request'), (req) => {
    return whoamiView(requireRole(req, ...ALL_ROLES));
  });

  app.get('/v1/promotions/:id/eligibility', audited('promotion.read', { target: 'promotion' }), async (req): Promise<Eligibility> => {
    const key = requireRole(req, ...ALL_ROLES);
    const id = (req.params as { id?: string }).id ?? '';
    if (!PROMOTION_ID.test(id)) throw new AppError('PROMOTION_NOT_FOUND', 'no such promotion');
    const p = await review.get(id, reviewerKey(key));
    const why = refusalOf(p, key);
    return why === undefined ? { mayDecide: true } : { mayDecide: false, code: why.code, reason: why.message };
  });
}

/** The body of GET /v1/whoami: the calling key, without its secret parts. */
export function whoamiView(key: ApiKeyInfo) {
  return { id: key.id, role: key.role, name: key.name, owner: key.owner, groups: key.groups };
}

/** What a decision by this key would be refused with now, in the order the decision route checks. */
function refusalOf(p: Promotion, key: ApiKeyInfo): AppError | undefined {
  const ineligible = ineligibleReviewer(p, reviewerKey(key));
  // a party to the promotion hears that first, whatever its role
  if (ineligible?.code === 'SELF_APPROVAL_FORBIDDEN') return ineligible;
  if (key.role !== 'reviewer') return new AppError('FORBIDDEN', `decisions are taken by reviewer keys (your key has ${key.role})`);
  if (p.state !== 'pending_review') return new AppError('PROMOTION_NOT_PENDING', `this promotion is ${p.state}; decisions are taken only while it is pending_review`);
  if (ineligible !== undefined) return ineligible;
  if (p.decisions.some((d) => d.principal === key.owner)) return new AppError('ALREADY_DECIDED', `principal ${key.owner} already decided this promotion; a decision counts once`);
  return undefined;
}
