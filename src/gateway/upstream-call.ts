/**
 * One upstream request with hard bounds: a deadline over the whole exchange, a cap on the
 * response body (the read is aborted the moment it is exceeded, and a compressed body is
 * never inflated past it), redirects never followed. The response is buffered so a refusal
 * can still be a clean status for the job, and so a secret split across chunks is masked.
 * Whatever the upstream sends, the result is a value: a status outside 200–599 (a 1xx is
 * never final), a parse error, an upgrade or a body cut short is `bad_response`, never an
 * exception.
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { decodeBody } from './response-decoding.js';

export interface UpstreamRequest {
  /** The tool's origin. */
  readonly origin: URL;
  /** Path and query exactly as checked (not re-normalized by a URL parser). */
  readonly pathAndQuery: string;
  readonly method: string;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /** Aborts the call (the gateway is closing). */
  readonly signal: AbortSignal;
}

export type UpstreamResult =
  /** `body` is identity-encoded whatever the upstream sent (see response-decoding.ts). */
  | { readonly kind: 'response'; readonly status: number; readonly rawHeaders: string[]; readonly body: Buffer }
  | { readonly kind: 'redirect'; readonly status: number; readonly rawHeaders: string[]; readonly location: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'too_large'; readonly bytes: number }
  | { readonly kind: 'unreachable'; readonly detail: string }
  | { readonly kind: 'bad_response'; readonly detail: string }
  | { readonly kind: 'aborted' };

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** A final status we pass on: 1xx is informational only, and anything outside 100–599 is not HTTP. */
export function isFinalStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 200 && status <= 599;
}

const errorDetail = (err: Error): string => (err as NodeJS.ErrnoException).code ?? err.name;

export function callUpstream(r: UpstreamRequest): Promise<UpstreamResult> {
  return new Promise<UpstreamResult>((resolve) => {
    let settled = false;
    let response: IncomingMessage | undefined;
    const headers: OutgoingHttpHeaders = { ...r.headers };
    if (r.body.length > 0 || BODY_METHODS.has(r.method)) headers['content-length'] = String(r.body.length);
    const send = r.origin.protocol === 'https:' ? httpsRequest : httpRequest;
    // agent: false → one connection per call, closed after it; nothing is shared between jobs.
    // Host comes from hostname:port (the tool's origin), never from the job.
    const req = send({
      protocol: r.origin.protocol,
      hostname: r.origin.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: r.origin.port === '' ? undefined : Number(r.origin.port),
      path: r.pathAndQuery,
      method: r.method,
      headers,
      agent: false,
    });

    const finish = (result: UpstreamResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      r.signal.removeEventListener('abort', onAbort);
      if (result.kind !== 'response') {
        response?.destroy();
        req.destroy();
      }
      resolve(result);
    };
    const onAbort = (): void => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), r.timeoutMs);
    if (r.signal.aborted) return finish({ kind: 'aborted' });
    r.signal.addEventListener('abort', onAbort);

    req.on('error', (err) => {
      // llhttp's HPE_* codes: the upstream answered, but not with HTTP we accept
      const detail = errorDetail(err);
      finish(detail.startsWith('HPE_') || response !== undefined ? { kind: 'bad_response', detail } : { kind: 'unreachable', detail });
    });
    // a 101 with Upgrade: the connection would stop being HTTP
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      finish({ kind: 'bad_response', detail: 'upgrade' });
    });
    req.on('response', (res) => {
      response = res;
      res.on('error', (err) => finish({ kind: 'bad_response', detail: errorDetail(err) }));
      const status = res.statusCode ?? 0;
      if (!isFinalStatus(status)) return finish({ kind: 'bad_response', detail: `status ${String(status).slice(0, 16)}` });
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        // never followed; the body of a redirect is not passed on
        return finish({ kind: 'redirect', status, rawHeaders: res.rawHeaders, location });
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > r.maxResponseBytes) return finish({ kind: 'too_large', bytes: declared });
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > r.maxResponseBytes) finish({ kind: 'too_large', bytes });
        else chunks.push(chunk);
      });
      res.on('end', () => {
        if (settled) return;
        decodeBody(res.rawHeaders, Buffer.concat(chunks, bytes), r.maxResponseBytes).then(
          (decoded) => finish(decoded.kind === 'ok' ? { kind: 'response', status, rawHeaders: res.rawHeaders, body: decoded.body } : decoded),
          (err: unknown) => finish({ kind: 'bad_response', detail: err instanceof Error ? errorDetail(err) : 'decoding failed' }),
        );
      });
      res.on('close', () => {
        if (!res.complete) finish({ kind: 'bad_response', detail: 'upstream closed the response early' });
      });
    });
    req.end(r.body);
  });
}
