/**
 * The origin of a mutation asked for over HTTP: the request's key is the actor, and the record a
 * service appends carries what HTTP knows (route, parameters, IP, bytes, time so far) and the
 * answer the route gives for the service's result (`answer`: its status and body, the body
 * measured, never recorded). Once that record is written the request needs no other.
 */
import type { FastifyRequest } from 'fastify';
import type { AuditOrigin } from '../audit/index.js';
import { AppError } from '../shared/index.js';
import { actorOf, httpFacts } from './audit-event.js';

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

export function httpOrigin<R>(req: FastifyRequest, answer: (value: R) => HttpAnswer): AuditOrigin<R> {
  if (req.apiKey === undefined) throw new AppError('INTERNAL', 'a mutation over HTTP without an authenticated key');
  return {
    actor: actorOf(req),
    event(facts, value) {
      const a = answer(value);
      // what the route noted (e.g. tools refused) and what the service knows; the service's facts win
      const details = { ...req.auditState?.note, ...facts.details };
      return {
        actor: actorOf(req),
        action: facts.action,
        target: facts.target,
        ...httpFacts(req, Buffer.byteLength(JSON.stringify(a.body) ?? ''), facts.codeDigest),
        outcome: { status: a.status, ...(facts.result !== undefined ? { result: facts.result } : {}) },
        ...(Object.keys(details).length > 0 ? { details } : {}),
      };
    },
    recorded() {
      if (req.auditState !== null) req.auditState.recorded = true;
    },
  };
}
