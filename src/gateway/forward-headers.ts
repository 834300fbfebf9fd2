/**
 * Which headers cross the gateway. From the job: everything except hop-by-hop, credentials,
 * routing and framing headers (the gateway sets Host from the tool's origin and
 * Content-Length from the body it read). Back to the job: everything except hop-by-hop
 * headers and Set-Cookie (a session the injected secret opened is a credential too), with
 * injected secret values masked.
 */
import type { OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

const DROP_FROM_JOB = new Set([
  ...HOP_BY_HOP,
  'authorization',
  'cookie',
  'host',
  'content-length',
  'expect',
  'forwarded',
  'via',
  'x-real-ip',
  'accept-encoding', // the gateway asks for identity so it can mask echoed secrets
]);

// content-encoding: the body the job gets is always identity (decoded before masking)
const DROP_FROM_UPSTREAM = new Set([...HOP_BY_HOP, 'content-length', 'content-encoding', 'set-cookie', 'set-cookie2', 'location']);

/** Header names listed in a Connection header are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionTokens(rawHeaders: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') for (const t of rawHeaders[i + 1]!.split(',')) out.add(t.trim().toLowerCase());
  }
  return out;
}

function add(headers: OutgoingHttpHeaders, name: string, value: string): void {
  const prev = headers[name];
  if (prev === undefined) headers[name] = value;
  else headers[name] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
}

/** The upstream request's headers: the job's allowed headers, then the tool's injected ones. */
export function upstreamRequestHeaders(rawHeaders: readonly string[], injected: ReadonlyMap<string, { value: string }>): OutgoingHttpHeaders {
  const extra = connectionTokens(rawHeaders);
  const headers: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (DROP_FROM_JOB.has(name) || extra.has(name) || injected.has(name) || name.startsWith('proxy-') || name.startsWith('x-forwarded-')) continue;
    add(headers, name, rawHeaders[i + 1]!);
  }
  for (const [name, { value }] of injected) headers[name] = value;
  headers['accept-encoding'] = 'identity';
  return headers;
}

/** The headers the job gets back; `mask` replaces secret values inside each value. */
export function jobResponseHeaders(rawHeaders: readonly string[], mask: (s: string) => string): OutgoingHttpHeaders {
  const extra = connectionTokens(rawHeaders);
  const headers: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (DROP_FROM_UPSTREAM.has(name) || extra.has(name)) continue;
    add(headers, name, mask(rawHeaders[i + 1]!));
  }
  return headers;
}
