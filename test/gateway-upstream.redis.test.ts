/**
 * Breach 3 of issue 10: a tool's upstream must not be able to crash the process. A raw `net`
 * server on 127.0.0.1 answers each path with a scripted, misbehaving response (a status out
 * of range, garbage, a truncated body, bad headers, a slow drip, a reset). Each call gets a
 * clean 502/504 in the gateway's envelope, nothing escapes as an uncaught error or an
 * unhandled rejection, and the next call is served normally.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startGatewayHarness, type GatewayHarness } from './helpers/gateway-harness.js';

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';

/** path → what the upstream does with the connection once it has read the request head. */
const SCRIPTS: Record<string, (socket: Socket) => void> = {
  '/t/ok': (s) => s.end(OK),
  '/t/status-099': (s) => s.end('HTTP/1.1 099 Weird\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  '/t/status-600': (s) => s.end('HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  '/t/status-999': (s) => s.end('HTTP/1.1 999 Beyond\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  '/t/status-garbage': (s) => s.end('HTTP/1.1 2x0 Garbage\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  '/t/not-http': (s) => s.end('SSH-2.0-OpenSSH_9.0\r\n\r\n'),
  '/t/truncated': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nonly ten b'),
  '/t/header-control-char': (s) => s.end('HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  '/t/header-del': (s) => s.end('HTTP/1.1 200 OK\r\nX-Del: a\x7fb\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  '/t/header-nul': (s) => s.end('HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  '/t/header-bad-name': (s) => s.end('HTTP/1.1 200 OK\r\nX Bad Name: v\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  '/t/duplicate-length': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\nConnection: close\r\n\r\nok'),
  '/t/bare-lf-header': (s) => s.end('HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 2\n\nok'),
  '/t/switching': (s) => s.end('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: tcp\r\n\r\nanything'),
  '/t/drip': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n');
    const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write('x')), 50);
    s.on('close', () => clearInterval(timer));
  },
  '/t/drip-head': (s) => {
    s.write('HTTP/1.1 200 OK\r\n');
    const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write('X-Slow: 1\r\n')), 50);
    s.on('close', () => clearInterval(timer));
  },
  '/t/reset': (s) => s.resetAndDestroy(),
  '/t/reset-mid-body': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
    setTimeout(() => s.resetAndDestroy(), 20);
  },
  '/t/close-silently': (s) => s.end(),
};

function startRawUpstream(): Promise<{ server: Server; origin: string }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const path = head.split(' ')[1] ?? '';
      (SCRIPTS[path] ?? SCRIPTS['/t/ok']!)(socket);
    };
    socket.on('data', onData);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe('a misbehaving tool upstream', () => {
  let upstream: { server: Server; origin: string };
  let gw: GatewayHarness;
  const escaped: unknown[] = [];
  const onEscape = (err: unknown): void => {
    escaped.push(err);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onEscape);
    process.on('uncaughtException', onEscape);
    upstream = await startRawUpstream();
    gw = await startGatewayHarness('gwupstream', [{ name: 'raw', type: 'http', origin: upstream.origin, methods: ['GET'], pathPrefixes: ['/t/'], timeoutMs: 500 }]);
  });

  afterAll(async () => {
    process.off('unhandledRejection', onEscape);
    process.off('uncaughtException', onEscape);
    await gw?.close();
    upstream?.server.close();
  });

  it('serves a well-formed answer', async () => {
    const reply = await gw.call('/tools/raw/t/ok');
    expect([reply.status, reply.text]).toEqual([200, 'ok']);
  });

  it.each([
    ['/t/status-099', 502, 'upstream_bad_response'],
    ['/t/status-600', 502, 'upstream_bad_response'],
    ['/t/status-999', 502, 'upstream_bad_response'],
    ['/t/status-garbage', 502, 'upstream_bad_response'],
    ['/t/not-http', 502, 'upstream_bad_response'],
    ['/t/truncated', 502, 'upstream_bad_response'],
    ['/t/header-control-char', 502, 'upstream_bad_response'],
    ['/t/header-del', 502, 'upstream_bad_response'],
    ['/t/header-nul', 502, 'upstream_bad_response'],
    ['/t/header-bad-name', 502, 'upstream_bad_response'],
    ['/t/duplicate-length', 502, 'upstream_bad_response'],
    ['/t/bare-lf-header', 502, 'upstream_bad_response'],
    ['/t/switching', 502, 'upstream_bad_response'],
    ['/t/drip', 504, 'upstream_timeout'],
    ['/t/drip-head', 504, 'upstream_timeout'],
    ['/t/reset', 502, 'upstream_unreachable'],
    ['/t/reset-mid-body', 502, 'upstream_bad_response'],
    ['/t/close-silently', 502, 'upstream_unreachable'],
  ])('%s: the job gets %i %s, the process survives, the next call works', async (path, status, code) => {
    escaped.length = 0;
    const before = gw.reports.length;
    const reply = await gw.call(`/tools/raw${path}`);
    expect({ status: reply.status, code: errorCodeOf(reply) }).toEqual({ status, code });
    expect(gw.reports.slice(before).map((r) => [r.outcome, r.status])).toEqual([[code, status]]);
    const next = await gw.call('/tools/raw/t/ok');
    expect([next.status, next.text]).toEqual([200, 'ok']);
    // give anything that escaped a turn of the event loop to surface
    await new Promise((r) => setImmediate(r));
    expect(escaped).toEqual([]);
    expect(gw.errors).toEqual([]);
  });
});
