/**
 * The granted-tools gateway: the sandbox's only channel out. One instance serves one job on
 * a Unix socket; the job calls `METHOD /tools/<tool>/<path>?<query>` with
 * `Authorization: Bearer <its job token>` and the call is forwarded to the tool's origin
 * with the tool's secrets injected and only the request headers it allows. Checks, in order:
 * the job's call rate, credential (valid, active, this job's), tool granted, tool known,
 * method, path prefix, request size; then the upstream call with its timeout, response cap
 * and redirect rule. Every call, allowed or refused, is reported once through `onCall`
 * (GatewayAuditRecorder turns reports into records); reports and responses never carry the
 * token or a secret, and nothing an upstream sends escapes as an exception.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { JobCredentialVerifier } from '../credentials/index.js';
import { AppError, runInJobScope, withTimeout } from '../shared/index.js';
import { upstreamRequestHeaders } from './forward-headers.js';
import { GatewayRefusal, type GatewayErrorCode } from './gateway-errors.js';
import { bearerToken, readBoundedBody } from './job-request.js';
import { pathSegments, splitTarget, withinPrefixes } from './request-target.js';
import { SecretMask } from './secret-mask.js';
import { listenOnSocket, removeSocket } from './socket-listen.js';
import { resolveToolSecrets, type SecretResolver, type Tool } from './tool-schema.js';
import { callUpstream } from './upstream-call.js';
import { refusalReply, upstreamReply, writable, type Reply } from './gateway-reply.js';
import { TokenBucket } from './call-rate.js';
import { DEFAULT_CALL_RATE, type CallRate } from './gateway-options.js';

/** One tool call as the worker records it (audit action `gateway.call`). */
export interface GatewayCallReport {
  readonly jobId: string;
  /** The tool named in the request, when the request named one. */
  readonly tool: string | null;
  readonly method: string;
  /** Tool origin + forwarded path; never the query. null when no known tool was addressed. */
  readonly url: string | null;
  /** Status the job received. */
  readonly status: number;
  /** Body bytes read from the job. */
  readonly requestBytes: number;
  /** Body bytes sent to the job. */
  readonly responseBytes: number;
  readonly durationMs: number;
  readonly outcome: 'allowed' | GatewayErrorCode;
  /** jti of the presented token once it verified; null otherwise. */
  readonly jti: string | null;
  /** Why it was refused, for our records only (e.g. `revoked`, `other_job`, `dot segment`). */
  readonly reason?: string;
  /** The call went out to the tool's upstream (whatever came back); false: refused before that. */
  readonly forwarded: boolean;
}

export interface ToolGatewayOptions {
  /** The one job this gateway serves; a valid token of any other job is refused. */
  readonly jobId: string;
  readonly verifier: Pick<JobCredentialVerifier, 'verify'>;
  /** From parseTools (validated at start-up). */
  readonly tools: readonly Tool[];
  readonly resolveSecret: SecretResolver;
  /** Called once per call, before the response is flushed. A returned promise is awaited by close(). */
  readonly onCall: (report: GatewayCallReport) => void | Promise<void>;
  /** Unexpected errors (a failed credential check, a throwing onCall) for the worker's log; the job only sees 503 / its reply. */
  readonly onError?: (err: unknown) => void;
  /** Audience the token must name (default: any audience the verifier is configured with). */
  readonly audience?: string;
  /** Calls in flight at once for this job; beyond it `too_many_calls` (default 8). */
  readonly maxConcurrentCalls?: number;
  /** Bound on the credential check (Redis) per call (default 5000). */
  readonly verifyTimeoutMs?: number;
  /** Calls this job may make, counted before any other check; beyond it `rate_limited` (default DEFAULT_CALL_RATE). */
  readonly callRate?: CallRate;
  /** Clock of the rate limit (default performance.now). */
  readonly nowMs?: () => number;
}

export interface RunningToolGateway {
  readonly socketPath: string;
  /** Stops accepting calls, aborts those in flight, removes the socket file and awaits every report. Idempotent. */
  close(): Promise<void>;
}

interface CallState {
  tool: string | null;
  url: string | null;
  jti: string | null;
  requestBytes: number;
  forwarded: boolean;
}

const MAX_REPORT_URL_CHARS = 2048;
const TOOL_NAME = /^[a-z][a-z0-9-]{0,63}$/;

export class ToolGateway {
  private readonly jobId: string;
  private readonly tools: ReadonlyMap<string, Tool>;
  private readonly injected: Map<string, ReadonlyMap<string, { value: string; secret: string }>>;
  private readonly mask: SecretMask;
  /** Per tool: the job's request headers it forwards. */
  private readonly forwarded: ReadonlyMap<string, ReadonlySet<string>>;
  private readonly maxConcurrentCalls: number;
  private readonly verifyTimeoutMs: number;
  private readonly calls: TokenBucket;
  private readonly callRate: CallRate;
  private started = false;
  private inFlight = 0;

  constructor(private readonly opts: ToolGatewayOptions) {
    if (opts.jobId.length === 0) throw new AppError('INTERNAL', 'a gateway needs the id of its job');
    this.jobId = opts.jobId;
    this.tools = new Map(opts.tools.map((t) => [t.name, t]));
    if (this.tools.size !== opts.tools.length) throw new AppError('CONFIG_INVALID', 'invalid tools configuration: a tool name is used twice');
    this.injected = resolveToolSecrets(opts.tools, opts.resolveSecret);
    this.forwarded = new Map(opts.tools.map((t) => [t.name, new Set(t.forwardHeaders)]));
    this.mask = new SecretMask([...this.injected.values()].flatMap((headers) => [...headers.values()].flatMap(({ value, secret }) => [value, secret])));
    this.maxConcurrentCalls = opts.maxConcurrentCalls ?? 8;
    this.verifyTimeoutMs = opts.verifyTimeoutMs ?? 5000;
    this.callRate = opts.callRate ?? DEFAULT_CALL_RATE;
    this.calls = new TokenBucket(this.callRate, opts.nowMs ?? (() => performance.now()));
  }

  /**
   * Listens on `socketPath` (a stale socket there is replaced; any other file is refused)
   * and makes it connectable by the sandbox user (0666; protect the folder instead).
   */
  start(socketPath: string): Promise<RunningToolGateway> {
    if (this.started) throw new AppError('INTERNAL', 'this gateway was already started');
    this.started = true;
    // everything the server does runs in this job's scope: an error that still escapes is
    // contained by the process handler (shared/contain-errors.ts) instead of ending the process
    return runInJobScope({ component: 'tool-gateway', jobId: this.jobId }, () => this.listen(socketPath));
  }

  private async listen(socketPath: string): Promise<RunningToolGateway> {
    const closing = new AbortController();
    const pending = new Set<Promise<void>>();
    const server = createServer({ requestTimeout: 120_000, headersTimeout: 30_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
      const p = this.handle(req, res, closing.signal)
        .catch((err: unknown) => {
          this.opts.onError?.(err);
          res.destroy();
        })
        .finally(() => pending.delete(p));
      pending.add(p);
    });
    server.maxConnections = 64;
    await listenOnSocket(server, socketPath);

    let closed: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closed ??= (async () => {
        closing.abort();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        while (pending.size > 0) await Promise.allSettled([...pending]);
        await removeSocket(socketPath);
      })());
    return { socketPath, close };
  }

  private async handle(req: IncomingMessage, res: ServerResponse, closing: AbortSignal): Promise<void> {
    const started = performance.now();
    const call: CallState = { tool: null, url: null, jti: null, requestBytes: 0, forwarded: false };
    const token = bearerToken(req.headers.authorization);
    let reply: Reply;
    let counted = false;
    try {
      reply = await this.process(req, call, token, closing, () => {
        counted = true;
        this.inFlight++;
      });
    } catch (err) {
      if (!(err instanceof GatewayRefusal)) this.opts.onError?.(err);
      const refusal = err instanceof GatewayRefusal ? err : new GatewayRefusal('gateway_unavailable', 'the gateway could not handle this call', 'internal error');
      reply = refusalReply(refusal);
    } finally {
      if (counted) this.inFlight--;
    }
    reply = writable(reply);
    const report: GatewayCallReport = {
      jobId: this.jobId,
      tool: call.tool,
      method: req.method ?? '',
      url: call.url === null ? null : this.mask.text(call.url, token).slice(0, MAX_REPORT_URL_CHARS),
      status: reply.status,
      requestBytes: call.requestBytes,
      responseBytes: reply.body.length,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      outcome: reply.outcome,
      jti: call.jti,
      ...(reply.reason === undefined ? {} : { reason: this.mask.text(reply.reason, token) }),
      forwarded: call.forwarded,
    };
    const reported = this.report(report);
    try {
      if (!res.destroyed) {
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      }
    } catch (err) {
      // writable() checked status and headers: what is left is the job's socket failing
      this.opts.onError?.(err);
      res.destroy();
    }
    await reported;
  }

  private async report(report: GatewayCallReport): Promise<void> {
    try {
      await this.opts.onCall(report);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private async process(req: IncomingMessage, call: CallState, token: string | undefined, closing: AbortSignal, admit: () => void): Promise<Reply> {
    // 0. the job's call rate, before anything costs more than a counter
    const waitMs = this.calls.take();
    if (waitMs > 0) {
      const { perSecond, burst } = this.callRate;
      throw new GatewayRefusal('rate_limited', `at most ${perSecond} tool calls per second (bursts of ${burst}); retry later`, undefined, {
        'retry-after': String(Math.ceil(waitMs / 1000)),
      });
    }

    // 1. credential: valid, active, and this job's
    if (token === undefined) throw credentialInvalid('missing bearer token');
    const verified = await withTimeout(this.opts.verifier.verify(token, this.opts.audience === undefined ? {} : { audience: this.opts.audience }), this.verifyTimeoutMs);
    if (verified === undefined) throw new GatewayRefusal('gateway_unavailable', 'the credential could not be checked; try again', 'credential check timed out');
    if (!verified.ok) throw credentialInvalid(verified.reason);
    const claims = verified.claims;
    call.jti = claims.jti;
    if (claims.airlock.jobId !== this.jobId || claims.sub !== this.jobId) throw credentialInvalid('other_job');
    if (this.inFlight >= this.maxConcurrentCalls) {
      throw new GatewayRefusal('too_many_calls', `at most ${this.maxConcurrentCalls} tool calls may be in flight at once`);
    }
    admit();

    // 2. the tool: granted to this job, then known
    const target = splitTarget(req.url ?? '');
    if (target === undefined) throw new GatewayRefusal('route_not_found', 'call tools as /tools/<tool-name>/<path>');
    const name = target.toolName;
    call.tool = TOOL_NAME.test(name) ? name : null;
    if (!claims.airlock.tools.includes(name)) throw new GatewayRefusal('tool_not_granted', `tool "${name.slice(0, 64)}" is not granted to this job`);
    const tool = this.tools.get(name);
    if (tool === undefined) throw new GatewayRefusal('tool_unknown', `tool "${name}" is granted but not configured on this worker`);
    call.url = `${tool.origin}${target.path}`;

    // 3. method and path
    const method = req.method ?? '';
    if (!(tool.methods as readonly string[]).includes(method)) {
      throw new GatewayRefusal('method_not_allowed', `method ${method} is not allowed for tool "${name}" (allowed: ${tool.methods.join(', ')})`, undefined, {
        allow: tool.methods.join(', '),
      });
    }
    const path = pathSegments(target.path);
    if ('refused' in path) throw new GatewayRefusal('path_not_allowed', `path refused: ${path.refused}`, path.refused);
    if (!withinPrefixes(path.segments, tool.pathPrefixes)) {
      throw new GatewayRefusal('path_not_allowed', `path is outside the prefixes allowed for tool "${name}" (${tool.pathPrefixes.join(', ')})`, 'outside prefixes');
    }

    // 4. the request body, bounded
    const body = await readBoundedBody(req, tool.maxRequestBytes, call);
    if (body === undefined) {
      throw new GatewayRefusal('request_too_large', `request body exceeds ${tool.maxRequestBytes} bytes`, undefined, { connection: 'close' });
    }

    // 5. upstream
    const origin = new URL(tool.origin);
    const injected = this.injected.get(name) ?? new Map<string, { value: string; secret: string }>();
    call.forwarded = true;
    const result = await callUpstream({
      origin,
      pathAndQuery: `${target.path}${target.query}`,
      method,
      headers: upstreamRequestHeaders(req.rawHeaders, this.forwarded.get(name) ?? new Set(), injected),
      body,
      timeoutMs: tool.timeoutMs,
      maxResponseBytes: tool.maxResponseBytes,
      signal: closing,
    });
    return upstreamReply(result, { name, tool, path: target.path, method, mask: this.mask });
  }
}

function credentialInvalid(reason: string): GatewayRefusal {
  // one message whatever the reason: the job never learns why
  return new GatewayRefusal('credential_invalid', 'a valid job credential is required: Authorization: Bearer <job token>', reason);
}
