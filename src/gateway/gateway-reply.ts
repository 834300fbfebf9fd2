/**
 * What the gateway writes back to the job: a refusal in the gateway's envelope, or the
 * upstream's answer with secrets masked. Every reply passes `writable` before it is written,
 * so nothing an upstream sends can make writeHead throw.
 */
import { validateHeaderName, validateHeaderValue, type OutgoingHttpHeaders } from 'node:http';
import { jobResponseHeaders } from './forward-headers.js';
import { GatewayRefusal } from './gateway-errors.js';
import type { SecretMask } from './secret-mask.js';
import type { GatewayCallReport } from './tool-gateway.js';
import type { Tool } from './tool-schema.js';
import { isFinalStatus, type UpstreamResult } from './upstream-call.js';

export interface Reply {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly outcome: GatewayCallReport['outcome'];
  readonly reason?: string;
}

export function refusalReply(refusal: GatewayRefusal): Reply {
  const body = Buffer.from(JSON.stringify({ error: { code: refusal.code, message: refusal.message } }));
  return {
    status: refusal.status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': String(body.length),
      ...refusal.headers,
    },
    body,
    outcome: refusal.code,
    ...(refusal.reason === undefined ? {} : { reason: refusal.reason }),
  };
}

/**
 * The reply as it may be written: a final status and headers Node will send. Anything else
 * (an upstream's status or header that slipped through) becomes upstream_bad_response.
 */
export function writable(reply: Reply): Reply {
  if (!isFinalStatus(reply.status)) return refusalReply(new GatewayRefusal('upstream_bad_response', 'the tool answered with an unusable status', `status ${reply.status}`));
  try {
    for (const [name, value] of Object.entries(reply.headers)) {
      validateHeaderName(name);
      if (value !== undefined) for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, String(v));
    }
    return reply;
  } catch {
    return refusalReply(new GatewayRefusal('upstream_bad_response', 'the tool answered with an unusable header', 'invalid header'));
  }
}

export interface UpstreamCallContext {
  readonly name: string;
  readonly tool: Tool;
  /** The forwarded path (a same-origin redirect is resolved against it). */
  readonly path: string;
  readonly method: string;
  readonly mask: SecretMask;
}

/** The job's reply for what the upstream did; a refusal is thrown as a GatewayRefusal. */
export function upstreamReply(result: UpstreamResult, { name, tool, path, method, mask: secrets }: UpstreamCallContext): Reply {
  const mask = (s: string): string => secrets.text(s);
  switch (result.kind) {
    case 'timeout':
      throw new GatewayRefusal('upstream_timeout', `tool "${name}" did not answer within ${tool.timeoutMs} ms`);
    case 'too_large':
      throw new GatewayRefusal('response_too_large', `the response of tool "${name}" exceeds ${tool.maxResponseBytes} bytes`, `at least ${result.bytes} bytes`);
    case 'unreachable':
      throw new GatewayRefusal('upstream_unreachable', `tool "${name}" could not be reached`, mask(result.detail));
    case 'bad_response':
      throw new GatewayRefusal('upstream_bad_response', `tool "${name}" answered with a response the gateway does not pass on`, mask(result.detail));
    case 'aborted':
      throw new GatewayRefusal('gateway_unavailable', 'the gateway is shutting down', 'closing');
    case 'redirect': {
      let to: URL;
      try {
        to = new URL(result.location, `${tool.origin}${path}`);
      } catch {
        throw new GatewayRefusal('redirect_refused', `tool "${name}" answered with an unusable redirect`, 'bad location');
      }
      if (to.origin !== tool.origin) {
        throw new GatewayRefusal('redirect_refused', `tool "${name}" redirected to another origin; redirects are never followed`, 'other origin');
      }
      // same origin: passed back (not followed), pointing through the gateway again
      const headers = jobResponseHeaders(result.rawHeaders, mask);
      headers['location'] = mask(`/tools/${name}${to.pathname}${to.search}`);
      headers['content-length'] = '0';
      return { status: result.status, headers, body: Buffer.alloc(0), outcome: 'allowed' };
    }
    case 'response': {
      const headers = jobResponseHeaders(result.rawHeaders, mask);
      const out = secrets.body(result.body);
      if (method === 'HEAD') {
        const declared = result.rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'content-length');
        if (declared >= 0) headers['content-length'] = result.rawHeaders[declared + 1];
      } else if (result.status !== 204 && result.status !== 304) headers['content-length'] = String(out.length);
      return { status: result.status, headers, body: method === 'HEAD' ? Buffer.alloc(0) : out, outcome: 'allowed' };
    }
  }
}
