/**
 * Breach 5 of issue 10: an upstream that reflects the request's headers hands the job the
 * injected secret unless the gateway masks it in the form the upstream chose. A loopback
 * upstream echoes what it received as base64, base64url, hex, URL-encoding, JSON (the secret
 * holds `"` and `\`), gzip/deflate/br with a Content-Encoding the gateway did not ask for, and
 * split across two body chunks; the job decodes each answer the way it was encoded and must
 * not find the secret. A compression bomb stops at the response cap; an unknown coding is
 * refused.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gunzipSync, gzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startGatewayHarness, type GatewayHarness } from './helpers/gateway-harness.js';

/** Printable ASCII with every character the encoders treat specially. */
const SECRET = 'k3y"with\\quote/slash+plus &amp<lt>=eq%pct~t';
const TOKEN = 'plainAlnumToken0123456789';
const MARKER = 'visible-marker-value';

/** What the upstream echoes: the headers it received, as JSON. */
const echoOf = (req: IncomingMessage): string => JSON.stringify({ headers: req.headers, marker: MARKER });

const ROUTES: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/r/plain': (req, res) => res.end(echoOf(req)),
  '/r/base64': (req, res) => res.end(Buffer.from(echoOf(req)).toString('base64')),
  '/r/base64url': (req, res) => res.end(Buffer.from(echoOf(req)).toString('base64url')),
  '/r/hex': (req, res) => res.end(Buffer.from(echoOf(req)).toString('hex')),
  '/r/hex-upper': (req, res) => res.end(Buffer.from(echoOf(req)).toString('hex').toUpperCase()),
  '/r/url': (req, res) => res.end(`key=${encodeURIComponent(String(req.headers['x-api-key']))}&auth=${encodeURIComponent(String(req.headers.authorization))}`),
  '/r/url-form': (req, res) => res.end(new URLSearchParams({ key: String(req.headers['x-api-key']), auth: String(req.headers.authorization) }).toString()),
  '/r/url-lower': (req, res) =>
    res.end([...String(req.headers['x-api-key'])].map((c) => (/[A-Za-z0-9]/.test(c) ? c : `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).join('') + '&' + MARKER),
  '/r/header-b64': (req, res) => {
    res.setHeader('x-debug', Buffer.from(String(req.headers['x-api-key'])).toString('base64'));
    res.end(MARKER);
  },
  '/r/gzip': (req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
    res.end(gzipSync(echoOf(req)));
  },
  '/r/deflate': (req, res) => {
    res.writeHead(200, { 'content-encoding': 'deflate' });
    res.end(deflateSync(echoOf(req)));
  },
  '/r/br': (req, res) => {
    res.writeHead(200, { 'content-encoding': 'br' });
    res.end(brotliCompressSync(echoOf(req)));
  },
  '/r/split': (req, res) => {
    const text = echoOf(req);
    const at = text.indexOf('quote/slash'); // inside the JSON-escaped secret
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(text.slice(0, at));
    setTimeout(() => res.end(text.slice(at)), 50);
  },
  '/r/split-raw': (req, res) => {
    const key = String(req.headers['x-api-key']);
    res.write(`${MARKER} ${key.slice(0, 9)}`);
    setTimeout(() => res.end(`${key.slice(9)} ${MARKER}`), 50);
  },
  '/r/bomb': (_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' });
    res.end(gzipSync(Buffer.alloc(64 * 1024 * 1024)));
  },
  '/r/compress': (req, res) => {
    res.writeHead(200, { 'content-encoding': 'compress' });
    res.end(echoOf(req));
  },
  '/r/gzip-twice': (req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip, gzip' });
    res.end(gzipSync(gzipSync(echoOf(req))));
  },
};

describe('a reflecting upstream', () => {
  let upstream: Server;
  let gw: GatewayHarness;
  let seenEncoding: string | undefined;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seenEncoding = req.headers['accept-encoding'];
      (ROUTES[(req.url ?? '').split('?')[0]!] ?? ((_q, s: ServerResponse) => s.end('?')))(req, res);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gw = await startGatewayHarness(
      'gwmask',
      [
        {
          name: 'echo',
          type: 'http',
          origin,
          methods: ['GET'],
          pathPrefixes: ['/r/'],
          maxResponseBytes: 1024 * 1024,
          injectHeaders: { 'X-Api-Key': { secret: 'ECHO_KEY' }, Authorization: { secret: 'ECHO_TOKEN', prefix: 'Bearer ' } },
        },
      ],
      { ECHO_KEY: SECRET, ECHO_TOKEN: TOKEN },
    );
  });

  afterAll(async () => {
    await gw?.close();
    upstream?.close();
  });

  /** Every string value of a JSON document, unescaped. */
  const jsonStrings = (b: Buffer): string => {
    const out: string[] = [];
    JSON.parse(b.toString(), (_k, v: unknown) => (typeof v === 'string' ? (out.push(v), v) : v));
    return out.join('\n');
  };

  /** The reply as the job would read it, decoded the way the upstream encoded it. */
  const decoders: Record<string, (body: Buffer) => string> = {
    '/r/plain': jsonStrings,
    '/r/base64': (b) => Buffer.from(b.toString(), 'base64').toString('latin1'),
    '/r/base64url': (b) => Buffer.from(b.toString(), 'base64url').toString('latin1'),
    '/r/hex': (b) => Buffer.from(b.toString(), 'hex').toString('latin1'),
    '/r/hex-upper': (b) => Buffer.from(b.toString(), 'hex').toString('latin1'),
    '/r/url': (b) => [...new URLSearchParams(b.toString()).values()].join('\n'),
    '/r/url-form': (b) => [...new URLSearchParams(b.toString()).values()].join('\n'),
    '/r/url-lower': (b) => decodeURIComponent(b.toString().replace(/\[redacted\]/g, '')),
    '/r/split': jsonStrings,
    '/r/split-raw': (b) => b.toString(),
  };

  it.each(Object.keys(decoders))('%s: the job cannot decode the secret out of the answer', async (path) => {
    const reply = await gw.call(`/tools/echo${path}`);
    expect(reply.status).toBe(200);
    const decoded = decoders[path]!(reply.body);
    for (const secret of [SECRET, TOKEN]) {
      expect(decoded).not.toContain(secret);
      expect(reply.text).not.toContain(secret);
    }
  });

  it('keeps the rest of a reflected answer readable', async () => {
    const plain = JSON.parse((await gw.call('/tools/echo/r/plain')).text) as { headers: Record<string, string>; marker: string };
    expect(plain.marker).toBe(MARKER);
    expect(plain.headers['x-api-key']).toBe('[redacted]');
    expect(plain.headers['authorization']).toBe('[redacted]');
    expect((await gw.call('/tools/echo/r/url-lower')).text).toBe(`[redacted]&${MARKER}`);
  });

  it('masks a header that reflects the secret as base64', async () => {
    const reply = await gw.call('/tools/echo/r/header-b64');
    expect(reply.text).toBe(MARKER);
    expect(Buffer.from(String(reply.headers['x-debug']), 'base64').toString('latin1')).not.toContain(SECRET);
  });

  it.each(['/r/gzip', '/r/deflate', '/r/br'])('%s although identity was asked: decoded, masked, passed on as identity', async (path) => {
    const reply = await gw.call(`/tools/echo${path}`);
    expect(seenEncoding).toBe('identity');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBeUndefined();
    const body = JSON.parse(reply.text) as { headers: Record<string, string>; marker: string };
    expect(body.marker).toBe(MARKER);
    expect(body.headers['x-api-key']).toBe('[redacted]');
    expect(reply.text).not.toContain(SECRET);
    // had it been passed on compressed, this is where the job would have found it
    for (const inflate of [gunzipSync, inflateSync, brotliDecompressSync]) expect(() => inflate(reply.body)).toThrow();
  });

  it('stops inflating a compression bomb at the response cap', async () => {
    const reply = await gw.call('/tools/echo/r/bomb');
    expect([reply.status, errorCodeOf(reply)]).toEqual([502, 'response_too_large']);
  });

  it('refuses a coding it cannot read, or a stack of codings', async () => {
    for (const path of ['/r/compress', '/r/gzip-twice']) {
      const reply = await gw.call(`/tools/echo${path}`);
      expect([reply.status, errorCodeOf(reply)], path).toEqual([502, 'upstream_bad_response']);
      expect(reply.text).not.toContain(SECRET);
    }
  });

  it('no report carries the secret', () => {
    const reports = JSON.stringify(gw.reports);
    for (const form of [SECRET, TOKEN, JSON.stringify(SECRET).slice(1, -1), encodeURIComponent(SECRET), Buffer.from(SECRET).toString('base64')])
      expect(reports).not.toContain(form);
  });
});
