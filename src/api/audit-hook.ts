/**
 * One audit record for every API request, accepted or refused (401, 403, 404, 4xx, 5xx,
 * unknown routes, and what the router refuses before any hook runs: a malformed
 * percent-escape, an over-long path parameter), written before the response leaves (onSend).
 * A request that cannot be recorded is answered 503 AUDIT_UNAVAILABLE instead of its real
 * answer — never served unrecorded. /healthz and /readyz are not audited (unauthenticated probes).
 *
 * Mutations: before their handler runs, the log must answer (preHandler). A submission is
 * recorded the moment the job is accepted (`auditSubmissions`), not when the answer leaves:
 * with `?wait` the job may run and finish before that, and job.submit must precede the
 * worker's job.start. If a record fails after its mutation, the hook undoes what it can
 * (`compensate`: cancel the new job, revoke the new key) and answers 503.
 *
 * A record names its object (`target`, indexed: it is how an owner reads a job's trail) only
 * when an authenticated key may see that object: an anonymous or another tenant's request
 * naming a victim's job id is recorded, but not into the victim's trail.
 *
 * What a record never holds: the bearer token, request or response bodies (so neither the
 * submitted program nor a created key's secret), header values. A submission is recorded by
 * its codeDigest; every event is redacted by the store before it is hashed (audit-event.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditAction, AuditStore } from '../audit/index.js';
import type { ApiKeyInfo } from '../credentials/index.js';
import { codeDigestOf, type JobInput, type JobProducer, type JobRecord } from '../queue/index.js';
import { AppError } from '../shared/index.js';
import { errorCodeOf, eventOf, isDenied, newAuditState, responseBytes } from './audit-event.js';
import { errorBody, HTTP_STATUS } from './error-handler.js';
import { KEY_ID, MUTATING_ACTIONS, PROMOTION_ID, UNAUDITED_ROUTES, auditActionOf, targetFromParams, type AuditTarget } from './route-actions.js';
import { view } from './routes/jobs.js';

export { ANONYMOUS_KEY_ID } from './audit-event.js';

export interface AuditHookOptions {
  store: AuditStore;
  /** Undoes a mutation whose record could not be written (best effort; failures are logged). */
  compensate: (action: AuditAction, target: string) => Promise<void>;
  /** Whether the key may see the object a refused request names (the routes' own visibility rules). */
  mayTarget: (key: ApiKeyInfo, target: AuditTarget) => Promise<boolean>;
}

export interface AuditHook {
  /** The producer the job routes use: records job.submit as soon as a job is accepted. */
  auditSubmissions(producer: JobProducer): JobProducer;
  /** Records and answers a request the router refused before any hook ran (fastify `frameworkErrors`). */
  refuseUnrouted(req: FastifyRequest, reply: FastifyReply, error: AppError): Promise<void>;
}

/** The request a handler is serving, so the submission hook can record it with its context. */
const currentRequest = new AsyncLocalStorage<FastifyRequest>();

const refusal = () => new AppError('AUDIT_UNAVAILABLE', 'the audit log cannot be written; the request is refused, never served unrecorded');

export function registerAuditHook(app: FastifyInstance, opts: AuditHookOptions): AuditHook {
  app.decorateRequest('auditState', null);

  // registered before authentication, so a 401 still has a start time and a context
  app.addHook('onRequest', (req, _reply, done) => {
    req.auditState = newAuditState();
    currentRequest.run(req, done);
  });

  app.addHook('onError', (req, _reply, error, done) => {
    if (req.auditState !== null) req.auditState.error = error;
    done();
  });

  // a mutation runs only when its record can be written: check the log answers first
  app.addHook('preHandler', async (req) => {
    if (!MUTATING_ACTIONS.has(auditActionOf(req.method, req.routeOptions.url))) return;
    await opts.store.head(); // throws AUDIT_UNAVAILABLE when the audit Redis does not answer
  });

  app.addHook('preSerialization', (req, reply, payload: unknown, done) => {
    const state = req.auditState;
    if (state !== null && state.createdId === null && reply.statusCode < 300 && payload !== null && typeof payload === 'object') {
      const id = (payload as Record<string, unknown>)['id'];
      const action = auditActionOf(req.method, req.routeOptions.url);
      if (typeof id === 'string' && ((action === 'key.create' && KEY_ID.test(id)) || (action === 'promotion.request' && PROMOTION_ID.test(id)))) {
        state.createdId = id; // only the id: a created key's secret stays out
      }
    }
    done(null, payload);
  });

  /** The object of the record: the one created, else a route parameter's id the key may see. */
  async function targetOf(req: FastifyRequest, status: number): Promise<string | null> {
    const created = req.auditState?.createdId ?? null;
    if (created !== null) return created;
    const named = targetFromParams(req.routeOptions.url, req.params);
    const key = req.apiKey;
    if (named === null || key === undefined || isDenied(req, status)) return null;
    if (status < 400) return named.id; // a route answers 2xx only about an object the key may see
    return (await opts.mayTarget(key, named).catch(() => false)) ? named.id : null;
  }

  app.addHook('onSend', async (req, reply, payload: unknown) => {
    const route = req.routeOptions.url;
    if ((route !== undefined && UNAUDITED_ROUTES.has(route)) || req.auditState?.recorded === true) return payload;
    const status = reply.statusCode;
    const event = eventOf(req, status, errorCodeOf(status, payload, req.auditState?.error), responseBytes(reply, payload), await targetOf(req, status));
    try {
      await opts.store.append(event);
      return payload;
    } catch (err) {
      req.log.error({ err, reqId: req.id, action: event.action, target: event.target }, 'audit record not written; request refused');
      const created = req.auditState?.createdId ?? null;
      if (created !== null && status < 300) {
        await opts.compensate(event.action, created).catch((e: unknown) => req.log.error({ err: e, reqId: req.id, target: created }, 'could not undo an unaudited mutation'));
      }
      return refuse(reply, payload);
    }
  });

  return {
    auditSubmissions(producer: JobProducer): JobProducer {
      const submit = async (ownerKeyId: string, input: JobInput): Promise<JobRecord> => {
        const rec = await producer.submit(ownerKeyId, input);
        const req = currentRequest.getStore();
        const state = req?.auditState;
        if (req === undefined || state === undefined || state === null) return rec; // recorded in onSend, without the digest
        state.createdId = rec.id;
        state.codeDigest = codeDigestOf(input);
        // what this input costs in Redis, and the key's running total (for admins, and a future quota)
        const usage = await producer.store.inputUsage(rec.id, ownerKeyId).catch((err: unknown) => req.log.warn({ err, jobId: rec.id }, 'input usage not read'));
        if (usage !== undefined) state.note = { ...state.note, ...usage };
        // the answer the job routes give for an accepted job: 202 with its view
        const event = eventOf(req, 202, undefined, Buffer.byteLength(JSON.stringify(view(rec))), rec.id);
        try {
          await opts.store.append(event);
          state.recorded = true;
          return rec;
        } catch (err) {
          req.log.error({ err, reqId: req.id, jobId: rec.id }, 'job.submit not recorded; the job is cancelled');
          await opts.compensate('job.submit', rec.id).catch((e: unknown) => req.log.error({ err: e, jobId: rec.id }, 'could not cancel an unaudited job'));
          throw refusal();
        }
      };
      return new Proxy(producer, {
        get(target, prop) {
          if (prop === 'submit') return submit;
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    },

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
