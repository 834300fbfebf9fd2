/**
 * The typed client of Airlock's REST API: one method per route, the API's errors as typed errors
 * with its stable codes (api-error.ts), a timeout per request, and retries of what the server
 * refused for now (503, 429) after its Retry-After. A network failure is retried only for reads.
 *
 *   const airlock = new Airlock({ url: 'http://127.0.0.1:8080', key: 'ak_…' });
 *   const job = await airlock.submitJob({ runtime: 'python', files: [{ path: 'main.py', content: 'print(42)' }] });
 *   for await (const e of airlock.jobEvents(job.id)) if (e.type === 'output') process.stdout.write(e.data);
 */
import { AirlockApiError, ApiUnreachableError, errorFromResponse, networkReason, retryAfterMsOf } from './api-error.js';
import { readEventStream } from './sse-parser.js';
import type {
  ApiKeyView,
  ArtifactList,
  AuditPage,
  DecisionAnswer,
  DecisionRequest,
  JobEvent,
  JobRequest,
  JobView,
  NewKeyRequest,
  ProfileView,
  PromotionQuery,
  PromotionSummary,
  PromotionView,
} from './wire-types.js';
import { isFinalJobState } from './wire-types.js';

export interface AirlockOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 (a trailing slash is ignored). */
  readonly url: string;
  /** An API key (`ak_…`), sent as `Authorization: Bearer <key>`; never logged or shown by this client. */
  readonly key: string;
  /** Per request (a `?wait=N` request gets N seconds more); default 30 000. */
  readonly timeoutMs?: number;
  /** How many times a 503/429 (or a read that got no answer) is tried again; default 3. */
  readonly retries?: number;
  /** Longest wait between tries, whatever Retry-After asks; default 30 000. */
  readonly maxRetryDelayMs?: number;
  /** Called before each retry (e.g. to tell the user). */
  readonly onRetry?: (info: { readonly attempt: number; readonly delayMs: number; readonly error: AirlockApiError }) => void;
  /** Sent with every request (e.g. `x-airlock-via: mcp`, which the API's audit records keep). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The fetch to use; default the global one (the API's own MCP endpoint passes an in-process one). */
  readonly fetch?: typeof fetch;
}

type Method = 'GET' | 'POST' | 'DELETE';

interface Call {
  readonly method: Method;
  readonly path: string;
  readonly body?: unknown;
  /** Extra seconds the server may hold the request (`?wait=`). */
  readonly waitS?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal | undefined;
  /** No timeout on the whole answer (a stream): only on its headers. */
  readonly streaming?: boolean;
}

const enc = encodeURIComponent;

export class Airlock {
  readonly url: string;
  readonly #key: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #maxRetryDelayMs: number;
  readonly #onRetry: AirlockOptions['onRetry'];
  readonly #headers: Readonly<Record<string, string>>;
  readonly #fetch: typeof fetch;

  constructor(opts: AirlockOptions) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(opts.url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
      throw new AirlockApiError('INVALID_REQUEST', `the Airlock URL must be http(s), got ${JSON.stringify(opts.url)}`, 0, { retryable: false, details: { field: 'url' } });
    if (opts.key.trim() === '') throw new AirlockApiError('UNAUTHORIZED', 'no API key given', 0, { retryable: false });
    this.url = opts.url.replace(/\/+$/, '');
    this.#key = opts.key.trim();
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retries = opts.retries ?? 3;
    this.#maxRetryDelayMs = opts.maxRetryDelayMs ?? 30_000;
    this.#onRetry = opts.onRetry;
    this.#headers = opts.headers ?? {};
    this.#fetch = opts.fetch ?? fetch;
  }

  // -- jobs ------------------------------------------------------------------------------------

  /** POST /v1/jobs; with `waitS` the server holds the answer until the job ends or that many seconds pass. */
  submitJob(request: JobRequest, opts: { waitS?: number } = {}): Promise<JobView> {
    return this.json({ method: 'POST', path: `/v1/jobs${waitQuery(opts.waitS)}`, body: request, waitS: opts.waitS ?? 0 });
  }

  getJob(id: string, opts: { waitS?: number } = {}): Promise<JobView> {
    return this.json({ method: 'GET', path: `/v1/jobs/${enc(id)}${waitQuery(opts.waitS)}`, waitS: opts.waitS ?? 0 });
  }

  /** Until the job is final (long-polls the server), or `timeoutMs` passes: then the job as it is. */
  async waitForJob(id: string, opts: { timeoutMs?: number; pollS?: number } = {}): Promise<JobView> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      const job = await this.getJob(id, { waitS: Math.max(0, Math.min(opts.pollS ?? 30, left)) });
      if (isFinalJobState(job.status) || left <= 0) return job;
    }
  }

  /** DELETE /v1/jobs/:id: a queued job is cancelled now; a running one is killed by its worker. */
  cancelJob(id: string): Promise<JobView> {
    return this.json({ method: 'DELETE', path: `/v1/jobs/${enc(id)}` });
  }

  /**
   * GET /v1/jobs/:id/events as it happens, until the `finished` event. A dropped connection is
   * resumed with Last-Event-ID (nothing lost, nothing twice) up to `reconnects` times in a row.
   */
  async *jobEvents(id: string, opts: { lastEventId?: string; signal?: AbortSignal; reconnects?: number } = {}): AsyncGenerator<JobEvent> {
    let lastId = opts.lastEventId;
    let failures = 0;
    for (;;) {
      let res: Response;
      try {
        res = await this.send({
          method: 'GET',
          path: `/v1/jobs/${enc(id)}/events`,
          headers: { accept: 'text/event-stream', ...(lastId !== undefined ? { 'last-event-id': lastId } : {}) },
          signal: opts.signal,
          streaming: true,
        });
      } catch (e) {
        if (!(e instanceof ApiUnreachableError) || ++failures > (opts.reconnects ?? 5) || opts.signal?.aborted === true) throw e;
        await sleep(Math.min(500 * 2 ** failures, 5000));
        continue;
      }
      try {
        for await (const raw of readEventStream(res.body ?? emptyBody())) {
          const event = jobEventOf(raw.event, raw.data, raw.id);
          if (event === undefined) continue;
          failures = 0;
          if (raw.id !== undefined) lastId = raw.id;
          yield event;
          if (event.type === 'finished') return;
        }
      } catch (e) {
        if (opts.signal?.aborted === true) throw e;
        // the connection broke mid-stream: resume below
      }
      if (++failures > (opts.reconnects ?? 5)) throw new ApiUnreachableError(`the event stream of job ${id} kept ending before the job finished`, undefined);
      await sleep(Math.min(250 * 2 ** failures, 5000));
    }
  }

  listArtifacts(id: string): Promise<ArtifactList> {
    return this.json({ method: 'GET', path: `/v1/jobs/${enc(id)}/artifacts` });
  }

  /** One collected file's bytes, with the digest the server sent (the caller may re-check it). */
  async getArtifact(id: string, path: string): Promise<{ bytes: Buffer; sha256: string | null }> {
    const res = await this.send({ method: 'GET', path: `/v1/jobs/${enc(id)}/artifacts/${path.split('/').map(enc).join('/')}` });
    return { bytes: Buffer.from(await res.arrayBuffer()), sha256: res.headers.get('x-content-sha256') };
  }

  /** All collected files as one tar, with the job's artifact digest. */
  async getArtifactsTar(id: string): Promise<{ bytes: Buffer; artifactDigest: string | null }> {
    const res = await this.send({ method: 'GET', path: `/v1/jobs/${enc(id)}/artifacts.tar` });
    return { bytes: Buffer.from(await res.arrayBuffer()), artifactDigest: res.headers.get('x-artifact-digest') };
  }

  /** A job's audit trail, oldest first. */
  jobAudit(id: string, opts: { limit?: number; cursor?: string } = {}): Promise<AuditPage & { jobId: string }> {
    return this.json({ method: 'GET', path: `/v1/jobs/${enc(id)}/audit${query(opts)}` });
  }

  // -- promotions ------------------------------------------------------------------------------

  requestPromotion(jobId: string, request: { target: string; note?: string }): Promise<PromotionView> {
    return this.json({ method: 'POST', path: `/v1/jobs/${enc(jobId)}/promotions`, body: request });
  }

  getPromotion(id: string): Promise<PromotionView> {
    return this.json({ method: 'GET', path: `/v1/promotions/${enc(id)}` });
  }

  async listPromotions(q: PromotionQuery = {}): Promise<PromotionSummary[]> {
    return (await this.json<{ promotions: PromotionSummary[] }>({ method: 'GET', path: `/v1/promotions${query(q)}` })).promotions;
  }

  decide(id: string, decision: DecisionRequest): Promise<DecisionAnswer> {
    return this.json({ method: 'POST', path: `/v1/promotions/${enc(id)}/decisions`, body: decision });
  }

  retryPromotion(id: string, reason: string): Promise<PromotionView> {
    return this.json({ method: 'POST', path: `/v1/promotions/${enc(id)}/retry`, body: { reason } });
  }

  async getPromotionPatch(id: string): Promise<string> {
    return (await this.send({ method: 'GET', path: `/v1/promotions/${enc(id)}/patch` })).text();
  }

  async getPromotionArtifactsTar(id: string): Promise<Buffer> {
    return Buffer.from(await (await this.send({ method: 'GET', path: `/v1/promotions/${enc(id)}/artifacts.tar` })).arrayBuffer());
  }

  promotionAudit(id: string, opts: { limit?: number; cursor?: string } = {}): Promise<AuditPage & { promotionId: string }> {
    return this.json({ method: 'GET', path: `/v1/promotions/${enc(id)}/audit${query(opts)}` });
  }

  // -- profiles, capabilities, keys, audit, credentials, health ----------------------------------

  async listProfiles(): Promise<ProfileView[]> {
    return (await this.json<{ profiles: ProfileView[] }>({ method: 'GET', path: '/v1/profiles' })).profiles;
  }

  /** The capability matrix (admin or reviewer key). */
  capabilities(): Promise<Readonly<Record<string, unknown>>> {
    return this.json({ method: 'GET', path: '/v1/capabilities' });
  }

  /** The new key's secret is in the answer, once. */
  createKey(request: NewKeyRequest): Promise<ApiKeyView & { key: string }> {
    return this.json({ method: 'POST', path: '/v1/keys', body: request });
  }

  async listKeys(): Promise<ApiKeyView[]> {
    return (await this.json<{ keys: ApiKeyView[] }>({ method: 'GET', path: '/v1/keys' })).keys;
  }

  revokeKey(id: string, opts: { killRunning?: boolean } = {}): Promise<ApiKeyView & { jobs: { cancelled: string[]; killing: string[]; running: string[] } }> {
    return this.json({ method: 'DELETE', path: `/v1/keys/${enc(id)}${opts.killRunning === true ? '?killRunning=true' : ''}` });
  }

  queryAudit(q: Readonly<Record<string, string | number | undefined>> = {}): Promise<AuditPage> {
    return this.json({ method: 'GET', path: `/v1/audit${query(q)}` });
  }

  verifyAudit(): Promise<Readonly<Record<string, unknown>> & { ok: boolean }> {
    return this.json({ method: 'GET', path: '/v1/audit/verify' });
  }

  /** RFC 7662 introspection of a job token (service or admin key). */
  introspectCredential(token: string): Promise<Readonly<Record<string, unknown>> & { active: boolean }> {
    return this.json({ method: 'POST', path: '/v1/credentials/introspect', body: { token } });
  }

  jwks(): Promise<{ keys: readonly Readonly<Record<string, unknown>>[] }> {
    return this.json({ method: 'GET', path: '/.well-known/jwks.json' });
  }

  health(): Promise<{ status: string }> {
    return this.json({ method: 'GET', path: '/healthz' });
  }

  ready(): Promise<Readonly<Record<string, unknown>>> {
    return this.json({ method: 'GET', path: '/readyz' });
  }

  // -- transport -------------------------------------------------------------------------------

  /** Any route, parsed as JSON (for a route newer than this client). */
  async json<T>(call: Call): Promise<T> {
    const res = await this.send(call);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new AirlockApiError('INTERNAL', `${call.method} ${call.path}: the API answered with something that is not JSON`, res.status, { retryable: false, cause: e });
    }
  }

  /** Sends with retries; a non-2xx answer is thrown as AirlockApiError, no answer as ApiUnreachableError. */
  async send(call: Call): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(call);
      } catch (e) {
        if (!(e instanceof AirlockApiError) || !this.mayRetry(call, e) || attempt > this.#retries || call.signal?.aborted === true) throw e;
        const delayMs = Math.min(e.retryAfterMs ?? 500 * 2 ** (attempt - 1), this.#maxRetryDelayMs);
        this.#onRetry?.({ attempt, delayMs, error: e });
        await sleep(delayMs);
      }
    }
  }

  /** 503 and 429 are the server saying "not now" (nothing was done); no answer at all is safe to repeat only for a read. */
  private mayRetry(call: Call, e: AirlockApiError): boolean {
    if (e.status === 503 || e.status === 429) return true;
    return e instanceof ApiUnreachableError && call.method === 'GET';
  }

  private async once(call: Call): Promise<Response> {
    const timeoutMs = this.#timeoutMs + (call.waitS ?? 0) * 1000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = call.signal === undefined ? timeout : AbortSignal.any([timeout, call.signal]);
    const headers: Record<string, string> = { ...this.#headers, authorization: `Bearer ${this.#key}`, ...call.headers };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      // a stream is bounded on its headers only: the body then flows as long as the job runs
      const controller = call.streaming === true ? new AbortController() : undefined;
      const headersSignal = controller === undefined ? signal : AbortSignal.any([controller.signal, ...(call.signal ? [call.signal] : [])]);
      const timer = controller === undefined ? undefined : setTimeout(() => controller.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs);
      try {
        res = await this.#fetch(`${this.url}${call.path}`, {
          method: call.method,
          headers,
          ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
          signal: headersSignal,
        });
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      if (call.signal?.aborted === true) throw e;
      throw new ApiUnreachableError(`cannot reach the Airlock API at ${this.url}: ${networkReason(e, timeoutMs)}`, e);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    throw errorFromResponse(res.status, text, `${call.method} ${call.path}`, retryAfterMsOf(res.headers.get('retry-after'), Date.now()));
  }
}

function waitQuery(waitS: number | undefined): string {
  return waitS !== undefined && waitS > 0 ? `?wait=${Math.ceil(waitS)}` : '';
}

function query(q: object): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q) as [string, string | number | boolean | undefined][]) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** One SSE event as a JobEvent; an event this client does not know (a newer server's) is skipped. */
function jobEventOf(event: string, data: string, id: string | undefined): JobEvent | undefined {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  switch (event) {
    case 'state':
      return { type: 'state', ...(id !== undefined ? { id } : {}), ...(body as { status: 'queued' | 'running'; at: string; attempt?: number; containerId?: string }) };
    case 'output': {
      const o = body as { stream: 'stdout' | 'stderr'; offset: number; data: string; encoding: 'utf8' | 'base64'; attempt: number };
      return { type: 'output', id: id ?? '', stream: o.stream, offset: o.offset, data: Buffer.from(o.data, o.encoding), attempt: o.attempt };
    }
    case 'finished':
      return { type: 'finished', job: body as unknown as JobView };
    default:
      return undefined;
  }
}
