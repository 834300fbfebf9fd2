/**
 * Which headers cross the gateway. From the job: only the tool's allow-list (`forwardHeaders`,
 * default DEFAULT_FORWARD_HEADERS), and never a header that would make the upstream, or a
 * proxy in front of it, act on another method, URL, host or client than the one the gateway
 * checked (the override family), nor credentials, routing or framing headers (the gateway
 * sets Host from the tool's origin and Content-Length from the body it read). A tool that
 * lists one of those is refused at start-up. Back to the job: everything except hop-by-hop
 * headers and Set-Cookie (a session the injected secret opened is a credential too), with
 * injected secret values masked.
 */
import type { OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/** Headers that re-route a request past the gateway's checks: method, URL, host or client address overrides. */
const OVERRIDE_HEADERS = new Set([
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-method',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-override-url',
  'x-host',
  'x-original-host',
  'x-forwarded-host',
  'forwarded',
  'via',
  'true-client-ip',
  'x-real-ip',
  'x-client-ip',
  'client-ip',
  'x-cluster-client-ip',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'cf-connecting-ip',
  'fastly-client-ip',
]);
const OVERRIDE_PREFIXES = ['x-forwarded-', 'proxy-'];

/** The gateway's own: framing, routing and the job's credentials. */
const GATEWAY_OWNED = new Set([...HOP_BY_HOP, 'authorization', 'cookie', 'host', 'content-length', 'expect', 'accept-encoding']);

/** What a tool forwards when it lists nothing: content negotiation and conditional requests. */
export const DEFAULT_FORWARD_HEADERS: readonly string[] = Object.freeze([
  'accept',
  'accept-language',
  'cache-control',
  'content-language',
  'content-type',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'range',
  'user-agent',
]);

/** Why a header may never be forwarded from the job, or undefined when a tool may list it. */
export function unforwardableReason(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (OVERRIDE_HEADERS.has(lower) || OVERRIDE_PREFIXES.some((p) => lower.startsWith(p))) return 'is a method, URL, host or client override and is never forwarded';
  if (GATEWAY_OWNED.has(lower)) return 'is set or stripped by the gateway and is never forwarded';
  return undefined;
}

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

/** The upstream request's headers: the job's headers the tool allows (lowercase names), then the tool's injected ones. */
export function upstreamRequestHeaders(rawHeaders: readonly string[], allowed: ReadonlySet<string>, injected: ReadonlyMap<string, { value: string }>): OutgoingHttpHeaders {
  const extra = connectionTokens(rawHeaders);
  const headers: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!allowed.has(name) || extra.has(name) || injected.has(name) || unforwardableReason(name) !== undefined) continue;
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
