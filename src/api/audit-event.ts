/**
 * What the audit record of one API request says: who (the key, or `anonymous`), which action
 * on which object, the request's route, parameters and query string, the outcome, bytes and
 * time. Never the body, never header values.
 *
 * Attacker-controlled text is bounded before it reaches the record: the path of an unknown
 * route, route parameters and the query string are capped (PATH_BYTES, QUERY_BYTES) and their
 * control characters (ANSI escapes, newlines that would fake lines in a terminal or a log
 * view) are written as visible `\u….` escapes. The store then redacts every string.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, AuditAction, AuditEvent } from '../audit/index.js';
import { parseApiKey } from '../credentials/index.js';
import { AppError } from '../shared/index.js';
import { RoleDeniedError } from './auth.js';
import { auditActionOf } from './route-audit.js';

/** The actor of a request no key vouches for (missing, malformed, unknown or revoked key). */
export const ANONYMOUS_KEY_ID = 'anonymous';
const ANONYMOUS_ACTOR: Actor = Object.freeze({ type: 'key', keyId: ANONYMOUS_KEY_ID, role: 'unauthenticated' });

/** Bytes of a request's path (unknown routes) and of each route parameter a record keeps. */
export const PATH_BYTES = 256;
/** Bytes of the query string a record keeps (names and values together); past it, `queryBytes` says how much there was. */
export const QUERY_BYTES = 1024;

export interface AuditState {
  startMs: number;
  /** The error the request failed with, when it went through the error handler. */
  error: unknown;
  /** This request's record is written: a service recorded its mutation (http-origin.ts). */
  recorded: boolean;
  /** Extra facts a route adds to its record (e.g. why an introspected token is inactive). */
  note?: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyRequest {
    auditState: AuditState | null;
  }
}

export function newAuditState(): AuditState {
  return { startMs: performance.now(), error: undefined, recorded: false };
}

/** 401, or a role the route refuses: an access-control refusal (`auth.denied`). */
export function isDenied(req: FastifyRequest, status: number): boolean {
  return status === 401 || req.auditState?.error instanceof RoleDeniedError;
}

/** The request's key as an actor; `anonymous` when no key vouches for it. */
export function actorOf(req: FastifyRequest): Actor {
  const key = req.apiKey;
  return key === undefined ? ANONYMOUS_ACTOR : { type: 'key', keyId: key.id, role: key.role };
}

/**
 * What HTTP knows about a request, for any record of it: method, route, client IP, bounded
 * parameters and query string, bytes each way and time so far.
 */
export function httpFacts(req: FastifyRequest, responseBytesCount: number, codeDigest?: string): Pick<AuditEvent, 'request' | 'bytes' | 'durationMs'> {
  const state = req.auditState;
  return {
    request: {
      method: auditText(req.method, 16),
      route: req.routeOptions.url ?? auditText(req.url.split('?')[0] ?? '', PATH_BYTES),
      ip: req.ip,
      ...paramsOf(req),
      ...(codeDigest !== undefined ? { codeDigest } : {}),
      ...(req.headers['x-airlock-via'] === 'mcp' ? { via: 'mcp' as const } : {}),
    },
    bytes: { request: requestBytes(req), response: responseBytesCount },
    durationMs: state === null ? 0 : Math.round((performance.now() - state.startMs) * 100) / 100,
  };
}

/** The HTTP hook's record of a request no service recorded. `target`: already checked to be one the caller may see (audit-hook.ts). */
export function eventOf(req: FastifyRequest, status: number, error: string | undefined, responseBytesCount: number, target: string | null): AuditEvent {
  const routeAction = auditActionOf(req);
  const denied = isDenied(req, status);
  const details = detailsOf(req, routeAction, denied);
  return {
    actor: actorOf(req),
    action: denied ? 'auth.denied' : routeAction,
    target,
    ...httpFacts(req, responseBytesCount),
    outcome: { status, ...(error !== undefined ? { error } : {}) },
    ...(details !== undefined ? { details } : {}),
  };
}

/** Route parameters and the query string, bounded: never the body, never headers. The store redacts them. */
function paramsOf(req: FastifyRequest): { params?: Record<string, unknown> } {
  const params: Record<string, unknown> = {};
  if (req.routeOptions.url !== undefined && req.params !== null && typeof req.params === 'object') {
    for (const [name, value] of Object.entries(req.params as Record<string, unknown>)) if (typeof value === 'string') params[name] = auditText(value, PATH_BYTES);
  }
  const query = req.query;
  if (query !== null && typeof query === 'object' && Object.keys(query).length > 0) {
    const kept: Record<string, unknown> = {};
    let budget = QUERY_BYTES;
    let verbatim = true;
    const take = (text: string, maxBytes: number) => {
      const t = auditText(text, Math.max(0, maxBytes));
      budget -= Buffer.byteLength(t);
      if (t !== text) verbatim = false;
      return t;
    };
    for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
      if (name === '__proto__') continue;
      const n = take(name, Math.min(budget, 128));
      if (n === '' && name !== '') break; // the budget is spent: the rest is counted, not kept
      const values = (Array.isArray(value) ? value : [value]).map((v) => take(String(v), budget));
      kept[n] = Array.isArray(value) ? values : (values[0] ?? '');
    }
    params['query'] = kept;
    // the query is not kept as sent (cut or escaped): how long it was
    if (!verbatim || budget <= 0) params['queryBytes'] = Buffer.byteLength(req.url.slice(req.url.indexOf('?') + 1));
  }
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
  return undefined;
}

// C0 and C1 controls, DEL, line/paragraph separators, bidirectional overrides and isolates
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Attacker text as a record may keep it: control characters escaped (`\u001b`), at most
 * `maxBytes` UTF-8 bytes, a cut marked with `…`. Linear in the input (one regex with no
 * quantifier, then a byte cut).
 */
export function auditText(value: string, maxBytes: number): string {
  const head = value.length > maxBytes ? value.slice(0, maxBytes) : value; // a char is at least one byte
  const printable = head.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (printable.length === value.length && Buffer.byteLength(printable) <= maxBytes) return printable;
  if (maxBytes <= 3) return '';
  // cut on a character boundary, leaving room for the marker
  let out = '';
  let bytes = 0;
  for (const ch of printable) {
    const b = Buffer.byteLength(ch);
    if (bytes + b > maxBytes - 3) break;
    out += ch;
    bytes += b;
  }
  return `${out}…`;
}

/** The stable code the client was sent (our envelope), else the error's code. */
export function errorCodeOf(status: number, payload: unknown, error: unknown): string | undefined {
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

export function responseBytes(reply: FastifyReply, payload: unknown): number {
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  if (Buffer.isBuffer(payload)) return payload.length;
  const n = Number(reply.getHeader('content-length') ?? 0);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
