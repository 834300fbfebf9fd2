/**
 * What HTTP records itself: one record for every request no service recorded — reads, refusals
 * (401, 403, 404, 4xx, 5xx), unknown routes, and what the router refuses before any hook runs (a
 * malformed percent-escape, an over-long path parameter) — written before the response leaves
 * (onSend). A request whose record cannot be written is answered 503 AUDIT_UNAVAILABLE instead of
 * its real answer: never served unrecorded. /healthz and /readyz are not audited
 * (unauthenticated probes).
 *
 * A mutation is recorded by its service, where it mutates (http-origin.ts gives that record the
 * request's facts): a route declared `mutating` whose answer is a success was recorded there.
 *
 * A record names its object (`target`, indexed: it is how an owner reads a job's trail) only
 * when an authenticated key may see that object: an anonymous or another tenant's request
 * naming a victim's job id is recorded, but not into the victim's trail.
 *
 * What a record never holds: the bearer token, request or response bodies, header values. Every
 * event is redacted by the store before it is hashed (audit-event.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditStore } from '../audit/index.js';
import type { ApiKeyInfo } from '../credentials/index.js';
import { LimitRefusal } from '../monitor/index.js';
import { AppError } from '../shared/index.js';
import { errorCodeOf, eventOf, isDenied, newAuditState, responseBytes } from './audit-event.js';
import { errorBody, HTTP_STATUS } from './error-handler.js';
import { routeAuditOf, targetFromParams, type AuditTarget } from './route-audit.js';

export { ANONYMOUS_KEY_ID } from './audit-event.js';

export interface AuditHookOptions {
  store: AuditStore;
  /** Whether the key may see the object a refused request names (the routes' own visibility rules). */
  mayTarget: (key: ApiKeyInfo, target: AuditTarget) => Promise<boolean>;
}

export interface AuditHook {
  /** Records and answers a request the router refused before any hook ran (fastify `frameworkErrors`). */
  refuseUnrouted(req: FastifyRequest, reply: FastifyReply, error: AppError): Promise<void>;
}

const refusal = () => new AppError('AUDIT_UNAVAILABLE', 'the audit log cannot be written; the request is refused, never served unrecorded');

export function registerAuditHook(app: FastifyInstance, opts: AuditHookOptions): AuditHook {
  app.decorateRequest('auditState', null);

  // registered before authentication, so a 401 still has a start time
  app.addHook('onRequest', (req, _reply, done) => {
    req.auditState = newAuditState();
    done();
  });

  app.addHook('onError', (req, _reply, error, done) => {
    if (req.auditState !== null) req.auditState.error = error;
    done();
  });

  /** The object of the record: a route parameter's id the key may see. */
  async function targetOf(req: FastifyRequest, status: number): Promise<string | null> {
    const named = targetFromParams(req);
    const key = req.apiKey;
    if (named === null || key === undefined || isDenied(req, status)) return null;
    if (status < 400) return named.id; // a route answers 2xx only about an object the key may see
    return (await opts.mayTarget(key, named).catch(() => false)) ? named.id : null;
  }

  app.addHook('onSend', async (req, reply, payload: unknown) => {
    const audit = routeAuditOf(req);
    if (audit === 'unaudited' || req.auditState?.recorded === true) return payload;
    // a limit's refusals are summed into ratelimit.refused records (monitor's RefusalRecorder), never one per request
    if (req.auditState?.error instanceof LimitRefusal) return payload;
    const status = reply.statusCode;
    if (audit?.mutating === true && status < 300) {
      // a bug: a mutation answered without its service's record; recorded here rather than lost
      req.log.error({ reqId: req.id, action: audit.action }, 'a mutating route answered without its service recording it');
    }
    const event = eventOf(req, status, errorCodeOf(status, payload, req.auditState?.error), responseBytes(reply, payload), await targetOf(req, status));
    try {
      await opts.store.append(event);
      return payload;
    } catch (err) {
      req.log.error({ err, reqId: req.id, action: event.action, target: event.target }, 'audit record not written; request refused');
      return refuse(reply, payload);
    }
  });

  return {
    async refuseUnrouted(req, reply, error) {
      // no hook ran for this request: it gets its state here, and no target (no route matched)
      req.auditState = newAuditState();
      req.auditState.error = error;
      let status = HTTP_STATUS[error.code];
      let body = JSON.stringify(errorBody(error));
      const event = eventOf(req, status, error.code, Buffer.byteLength(body), null);
      try {
        await opts.store.append(event);
      } catch (err) {
        req.log.error({ err, reqId: req.id, action: event.action }, 'audit record not written; request refused');
        status = HTTP_STATUS.AUDIT_UNAVAILABLE;
        body = JSON.stringify(errorBody(refusal()));
      }
      void reply.code(status).type('application/json; charset=utf-8').send(body);
    },
  };
}

/** Replaces the answer with 503 AUDIT_UNAVAILABLE; a streamed body is closed unread. */
function refuse(reply: FastifyReply, payload: unknown): string {
  if (payload !== null && typeof payload === 'object' && typeof (payload as { destroy?: unknown }).destroy === 'function') {
    (payload as { destroy: () => void }).destroy();
  }
  reply.code(503);
  reply.removeHeader('content-length');
  reply.header('content-type', 'application/json; charset=utf-8');
  return JSON.stringify(errorBody(refusal()));
}
