/**
 * One audit record for every API request, accepted or refused (401, 403, 404, 4xx, 5xx,
 * unknown routes), written before the response leaves (onSend). A request that cannot be
 * recorded is answered 503 AUDIT_UNAVAILABLE instead of its real answer — never served
 * unrecorded. /healthz and /readyz are not audited (unauthenticated probes).
 *
 * Mutations: before their handler runs, the log must answer (preHandler). A submission is
 * recorded the moment the job is accepted (`auditSubmissions`), not when the answer leaves:
 * with `?wait` the job may run and finish before that, and job.submit must precede the
 * worker's job.start. If a record fails after its mutation, the hook undoes what it can
 * (`compensate`: cancel the new job, revoke the new key) and answers 503.
 *
 * What a record never holds: the bearer token, request or response bodies (so neither the
 * submitted program nor a created key's secret), header values. A submission is recorded by
 * its codeDigest; every event is redacted by the store before it is hashed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, AuditAction, AuditEvent, AuditStore } from '../audit/index.js';
import { parseApiKey } from '../credentials/index.js';
import { codeDigestOf, type JobInput, type JobProducer, type JobRecord } from '../queue/index.js';
import { AppError } from '../shared/index.js';
import { RoleDeniedError } from './auth.js';
import { errorBody } from './error-handler.js';
import { KEY_ID, MUTATING_ACTIONS, PROMOTION_ID, UNAUDITED_ROUTES, auditActionOf, targetFromParams } from './route-actions.js';
import { view } from './routes/jobs.js';

/** The actor of a request no key vouches for (missing, malformed, unknown or revoked key). */
export const ANONYMOUS_KEY_ID = 'anonymous';
const ANONYMOUS_ACTOR: Actor = Object.freeze({ type: 'key', keyId: ANONYMOUS_KEY_ID, role: 'unauthenticated' });

export interface AuditHookOptions {
  store: AuditStore;
  /** Undoes a mutation whose record could not be written (best effort; failures are logged). */
  compensate: (action: AuditAction, target: string) => Promise<void>;
}

export interface AuditHook {
  /** The producer the job routes use: records job.submit as soon as a job is accepted. */
  auditSubmissions(producer: JobProducer): JobProducer;
}

interface AuditState {
  startMs: number;
  /** The error the request failed with, when it went through the error handler. */
  error: unknown;
  /** An id only the response carries (the new job of a submit, the new key of a create). */
  createdId: string | null;
  /** What a submission runs (see codeDigestOf). */
  codeDigest: string | null;
  /** This request's record is written (a submission is recorded before its answer). */
  recorded: boolean;
  /** Extra facts a route adds to its record (e.g. why an introspected token is inactive). */
  note?: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyRequest {
    auditState: AuditState | null;
  }
}

/** The request a handler is serving, so the submission hook can record it with its context. */
const currentRequest = new AsyncLocalStorage<FastifyRequest>();

const refusal = () => new AppError('AUDIT_UNAVAILABLE', 'the audit log cannot be written; the request is refused, never served unrecorded');

export function registerAuditHook(app: FastifyInstance, opts: AuditHookOptions): AuditHook {
  app.decorateRequest('auditState', null);

  // registered before authentication, so a 401 still has a start time and a context
  app.addHook('onRequest', (req, _reply, done) => {
    req.auditState = { startMs: performance.now(), error: undefined, createdId: null, codeDigest: null, recorded: false };
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

  app.addHook('onSend', async (req, reply, payload: unknown) => {
    const route = req.routeOptions.url;
    if ((route !== undefined && UNAUDITED_ROUTES.has(route)) || req.auditState?.recorded === true) return payload;
    const event = eventOf(req, reply.statusCode, errorCodeOf(reply.statusCode, payload, req.auditState?.error), responseBytes(reply, payload));
    try {
      await opts.store.append(event);
      return payload;
    } catch (err) {
      req.log.error({ err, reqId: req.id, action: event.action, target: event.target }, 'audit record not written; request refused');
      const created = req.auditState?.createdId ?? null;
      if (created !== null && reply.statusCode < 300) {
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
        // the answer the job routes give for an accepted job: 202 with its view
        const event = eventOf(req, 202, undefined, Buffer.byteLength(JSON.stringify(view(rec))));
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
  };
}

function eventOf(req: FastifyRequest, status: number, error: string | undefined, responseBytesCount: number): AuditEvent {
  const state = req.auditState;
  const route = req.routeOptions.url;
  const routeAction = auditActionOf(req.method, route);
  const denied = status === 401 || state?.error instanceof RoleDeniedError;
  const action: AuditAction = denied ? 'auth.denied' : routeAction;
  const key = req.apiKey;
  const actor: Actor = key === undefined ? ANONYMOUS_ACTOR : { type: 'key', keyId: key.id, role: key.role };
  const details = detailsOf(req, routeAction, denied);
  const createdId = state?.createdId ?? null;
  return {
    actor,
    action,
    target: createdId ?? targetFromParams(route, req.params),
    request: {
      method: req.method,
      route: route ?? req.url.split('?')[0] ?? '',
      ip: req.ip,
      ...paramsOf(req),
      ...(state?.codeDigest != null ? { codeDigest: state.codeDigest } : {}),
    },
    outcome: { status, ...(error !== undefined ? { error } : {}) },
    bytes: { request: requestBytes(req), response: responseBytesCount },
    durationMs: state === null ? 0 : Math.round((performance.now() - state.startMs) * 100) / 100,
    ...(details !== undefined ? { details } : {}),
  };
}

/** Route parameters and the query string: never the body, never headers. The store redacts them. */
function paramsOf(req: FastifyRequest): { params?: Record<string, unknown> } {
  const params: Record<string, unknown> = {};
  if (req.routeOptions.url !== undefined && req.params !== null && typeof req.params === 'object') Object.assign(params, req.params);
  const query = req.query;
  if (query !== null && typeof query === 'object' && Object.keys(query).length > 0) params['query'] = { ...query };
  return Object.keys(params).length > 0 ? { params } : {};
}

function detailsOf(req: FastifyRequest, routeAction: AuditAction, denied: boolean): Record<string, unknown> | undefined {
  if (denied) {
    // which key a refused token named (its id only: the secret never leaves the header)
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const claimed = token === undefined ? undefined : parseApiKey(token)?.id;
    return { attempted: routeAction, ...(claimed !== undefined && req.apiKey === undefined ? { claimedKeyId: claimed } : {}) };
  }
  if (req.auditState?.note !== undefined) return { ...req.auditState.note };
  if (routeAction === 'key.create' && req.body !== null && typeof req.body === 'object') {
    const body = req.body as Record<string, unknown>;
    const pick = Object.fromEntries(
      ['role', 'owner', 'name', 'profiles', 'tools', 'groups'].flatMap((k) => (typeof body[k] === 'string' || Array.isArray(body[k]) ? [[k, body[k]]] : [])),
    );
    return Object.keys(pick).length > 0 ? pick : undefined;
  }
  return undefined;
}

/** The stable code the client was sent (our envelope), else the error's code. */
function errorCodeOf(status: number, payload: unknown, error: unknown): string | undefined {
  if (status < 400) return undefined;
  if (typeof payload === 'string' && payload.length < 65_536) {
    try {
      const code = (JSON.parse(payload) as { error?: { code?: unknown } }).error?.code;
      if (typeof code === 'string') return code;
    } catch {
      /* not our envelope */
    }
  }
  return error instanceof AppError ? error.code : undefined;
}

function requestBytes(req: FastifyRequest): number {
  const n = Number(req.headers['content-length'] ?? 0);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

function responseBytes(reply: FastifyReply, payload: unknown): number {
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  if (Buffer.isBuffer(payload)) return payload.length;
  const n = Number(reply.getHeader('content-length') ?? 0);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
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
