/**
 * POST /mcp: the MCP server over Streamable HTTP (stateless), for the request's own API key.
 * Each tool call runs the REST routes in-process (fastify inject) with the caller's key, so it
 * meets the same authentication, role checks, limits, grants, visibility and audit as REST; its
 * records say `request.via: "mcp"`. A tool call's record is the one its route writes; this
 * request is recorded itself only when it calls no tool (initialize, tools/list, a refusal).
 * The request's own rate limit counts the call once: the in-process requests are not counted again.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Airlock } from '../../client/index.js';
import { cancelledIn, clientBackend, handleMcpHttp, messageCount, toolCallsIn, toolsFor, type McpBackend, type RestSchemas } from '../../mcp/index.js';
import type { JobProducer } from '../../queue/index.js';
import { AppError } from '../../shared/index.js';
import { RoleDeniedError, requireRole } from '../auth.js';
import { audited } from '../route-audit.js';
import { view } from './jobs.js';

export const MCP_PATH = '/mcp';

export interface McpRouteDeps {
  readonly schemas: RestSchemas;
  /** Waits for a job a tool call submitted (no further request: the submission was the call's record). */
  readonly producer: Pick<JobProducer, 'get' | 'waitForResult'>;
  readonly maxWaitS: number;
  /** Host names (without port) a request may name besides loopback names and IP literals: DNS rebinding. */
  readonly allowedHosts?: readonly string[];
  /** Origins (scheme://host[:port]) a browser-sent request may come from; none by default. */
  readonly allowedOrigins?: readonly string[];
}

const ALL_ROLES = ['agent', 'reviewer', 'admin', 'service'] as const;

/** Marks this process's own in-process requests (never leaves the process). */
const INNER_HEADER = 'x-airlock-mcp-inner';
const INNER_TOKEN = Buffer.from(randomBytes(32).toString('hex'));

/** An in-process request of an MCP tool call (its POST /mcp was already counted against the key's limit). */
export function isInnerMcpRequest(req: FastifyRequest): boolean {
  const v = req.headers[INNER_HEADER];
  return typeof v === 'string' && v.length === INNER_TOKEN.length && timingSafeEqual(Buffer.from(v), INNER_TOKEN);
}

const METHOD_NOT_ALLOWED = { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP endpoint is stateless, POST only.' }, id: null };

export function mcpRoutes(app: FastifyInstance, deps: McpRouteDeps): void {
  /** Calls in flight by key and JSON-RPC id: a notifications/cancelled (its own request, stateless) aborts them. */
  const inflight = new Map<string, AbortController>();
  const known = new Set(toolsFor(deps.schemas, undefined).map((t) => t.name));

  app.post(MCP_PATH, audited('request'), async (req, reply) => {
    const key = requireRole(req, ...ALL_ROLES);
    checkHostAndOrigin(req, deps);
    const allowed = new Set(toolsFor(deps.schemas, key.role).map((t) => t.name));
    const calls = toolCallsIn(req.body);
    const denied = calls.find((c) => known.has(c.name) && !allowed.has(c.name));
    if (denied !== undefined) throw new RoleDeniedError(`the tool ${denied.name} is not available to a ${key.role} key`);
    for (const id of cancelledIn(req.body)) inflight.get(`${key.id}:${JSON.stringify(id)}`)?.abort(new Error('cancelled by the caller'));

    const controller = new AbortController();
    const ids = calls.map((c) => `${key.id}:${JSON.stringify(c.id)}`);
    for (const id of ids) inflight.set(id, controller);
    const answer = await handleMcpHttp(webRequest(req), req.body, { backend: inProcessBackend(app, req, deps), schemas: deps.schemas, role: key.role, signal: controller.signal });
    reply.raw.once('close', () => {
      // the answer is sent, or the caller left mid-call: a job still followed is cancelled
      controller.abort(new Error('the MCP request ended'));
      for (const id of ids) if (inflight.get(id) === controller) inflight.delete(id);
      void answer.close();
    });
    // each tool call is recorded by the request it makes (its route's record, via: mcp)
    if (calls.length > 0 && calls.length === messageCount(req.body) && calls.every((c) => allowed.has(c.name)) && req.auditState !== null) req.auditState.recorded = true;
    const { response } = answer;
    reply.status(response.status);
    response.headers.forEach((value, name) => void reply.header(name, value));
    return reply.send(response.body === null ? '' : Readable.fromWeb(response.body as NodeWebStream<Uint8Array>));
  });

  for (const method of ['GET', 'DELETE'] as const) {
    app.route({
      method,
      url: MCP_PATH,
      ...audited('request'),
      handler: (req, reply) => (requireRole(req, ...ALL_ROLES), reply.status(405).header('allow', 'POST').send(METHOD_NOT_ALLOWED)),
    });
  }
}

/** The tool calls' backend: the client over the REST routes in-process, with the caller's key and address. */
function inProcessBackend(app: FastifyInstance, req: FastifyRequest, deps: McpRouteDeps): McpBackend {
  const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const client = new Airlock({
    url: 'http://airlock.internal',
    key: token,
    retries: 0,
    headers: { 'x-airlock-via': 'mcp', [INNER_HEADER]: INNER_TOKEN.toString() },
    fetch: injectFetch(app, req.ip),
  });
  return {
    ...clientBackend(client),
    awaitJob: async (id, waitS) => {
      const rec = (await deps.producer.waitForResult(id, Math.min(waitS, deps.maxWaitS) * 1000)) ?? (await deps.producer.get(id));
      if (rec === undefined) throw new AppError('JOB_NOT_FOUND', 'no such job');
      return view(rec);
    },
  };
}

function injectFetch(app: FastifyInstance, remoteAddress: string): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const res = await app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: url.pathname + url.search,
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      ...(typeof init?.body === 'string' ? { payload: init.body } : {}),
      remoteAddress,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) headers.append(name, String(v));
    const empty = res.statusCode === 204 || res.statusCode === 304;
    return new Response(empty ? null : res.rawPayload, { status: res.statusCode, headers });
  };
}

/** The request as the transport reads it (the body is passed parsed). */
function webRequest(req: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) headers.append(name, v);
  return new Request(`http://${req.host}${req.url}`, { method: 'POST', headers });
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const IP_LITERAL = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;

/**
 * DNS rebinding: a page on a name the attacker controls that now resolves to this API would send
 * that name as Host, and its own Origin. Host must be loopback, an IP literal or a configured
 * name; a request with an Origin (a browser's) must come from a configured origin.
 */
function checkHostAndOrigin(req: FastifyRequest, deps: McpRouteDeps): void {
  const host = req.hostname.toLowerCase();
  if (!LOOPBACK.has(host) && !IP_LITERAL.test(host) && !(deps.allowedHosts ?? []).includes(host)) {
    throw new AppError('FORBIDDEN', `Host ${JSON.stringify(host.slice(0, 100))} is not allowed for ${MCP_PATH} (loopback, an IP literal or an allowed host name)`, {
      details: { field: 'host' },
    });
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !(deps.allowedOrigins ?? []).includes(origin)) {
    throw new AppError('FORBIDDEN', `Origin ${JSON.stringify(origin.slice(0, 100))} is not allowed for ${MCP_PATH} (only allowed origins)`, {
      details: { field: 'origin' },
    });
  }
}
