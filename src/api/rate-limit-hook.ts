/**
 * Every request against its limit, before its body is read: a key's requests per minute (its
 * override or its role's default, lowered while it is throttled), or, with no valid key, its
 * source address's. A refusal is 429 RATE_LIMITED with Retry-After (the error handler sets the
 * headers from the refusal); an allowed request carries the RateLimit headers too. Refusals are
 * summed into `ratelimit.refused` records (RefusalRecorder), so the audit hook does not record
 * them one by one. Each authenticated request is an observation of its key's behaviour.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyInfo } from '../credentials/index.js';
import { LimitRefusal, rateLimitHeaders, type BehaviourEvents, type RateDecision, type RateLimiter, type RefusalRecorder } from '../monitor/index.js';

export interface RequestLimitDeps {
  readonly limiter: RateLimiter;
  readonly refusals: RefusalRecorder;
  readonly anomalies: BehaviourEvents;
}

export interface RequestLimits {
  /** A request of a key that authenticated. */
  key(req: FastifyRequest, reply: FastifyReply, key: ApiKeyInfo): Promise<void>;
  /** A request no key vouches for (public route, or failed authentication). */
  anonymous(req: FastifyRequest, reply: FastifyReply): Promise<void>;
}

export function requestLimits(deps: RequestLimitDeps): RequestLimits {
  const settle = (req: FastifyRequest, reply: FastifyReply, d: RateDecision) => {
    if (d.allowed) return void reply.headers(rateLimitHeaders(d));
    // summed by the refusal recorder, not one record per request
    if (req.auditState !== null) req.auditState.recorded = true;
    throw new LimitRefusal(d);
  };
  return {
    async key(req, reply, key) {
      deps.anomalies.observe(key.id, 'requests');
      const d = await deps.limiter.keyRequest(key.id, key.role);
      if (!d.allowed) {
        deps.anomalies.observe(key.id, 'refused');
        void deps.refusals.refused({ keyId: key.id, role: key.role }, d.limitName, 'RATE_LIMITED');
      }
      settle(req, reply, d);
    },
    async anonymous(req, reply) {
      const d = await deps.limiter.anonymousRequest(req.ip);
      if (!d.allowed) void deps.refusals.refused({ address: req.ip }, d.limitName, 'RATE_LIMITED');
      settle(req, reply, d);
    },
  };
}
