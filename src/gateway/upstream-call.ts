/**
 * One upstream request with hard bounds: a deadline over the whole exchange, a cap on the
 * response body (the read is aborted the moment it is exceeded), redirects never followed.
 * The response is buffered so a refusal can still be a clean status for the job.
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

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
  | { readonly kind: 'response'; readonly status: number; readonly rawHeaders: string[]; readonly body: Buffer }
  | { readonly kind: 'redirect'; readonly status: number; readonly rawHeaders: string[]; readonly location: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'too_large'; readonly bytes: number }
  | { readonly kind: 'unreachable'; readonly detail: string }
  | { readonly kind: 'aborted' };

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

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

    req.on('error', (err) => finish({ kind: 'unreachable', detail: (err as NodeJS.ErrnoException).code ?? err.name }));
    req.on('response', (res) => {
      response = res;
      const status = res.statusCode ?? 502;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        // never followed; the body of a redirect is not passed on
        finish({ kind: 'redirect', status, rawHeaders: res.rawHeaders, location });
        res.destroy();
        req.destroy();
        return;
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
      res.on('end', () => finish({ kind: 'response', status, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks, bytes) }));
      res.on('error', (err) => finish({ kind: 'unreachable', detail: (err as NodeJS.ErrnoException).code ?? err.name }));
      res.on('close', () => {
        if (!res.complete) finish({ kind: 'unreachable', detail: 'upstream closed the response early' });
      });
    });
    req.end(r.body);
  });
}
