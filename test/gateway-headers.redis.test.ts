/**
 * Issue 10: the job's request headers reach the upstream only through the tool's allow-list,
 * and the override family (method, URL, host and client-address overrides) never does, next
 * to the injected secret or otherwise.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayHarness, type GatewayHarness } from './helpers/gateway-harness.js';

const SECRET = 'hdr-secret-4b9d2e7a';

const OVERRIDES: Record<string, string> = {
  'X-HTTP-Method-Override': 'DELETE',
  'X-HTTP-Method': 'DELETE',
  'X-Method-Override': 'DELETE',
  'X-Original-URL': '/admin/users',
  'X-Rewrite-URL': '/admin/users',
  'X-Original-Host': 'admin.internal',
  'X-Host': 'admin.internal',
  'X-Forwarded-Host': 'admin.internal',
  'X-Forwarded-For': '127.0.0.1',
  'True-Client-IP': '127.0.0.1',
  'X-Real-IP': '127.0.0.1',
  'X-Client-IP': '127.0.0.1',
  Forwarded: 'for=127.0.0.1;host=admin.internal',
};

describe('headers the job sends', () => {
  let upstream: Server;
  let origin: string;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seen.push(req.headers);
      res.end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });

  afterAll(() => {
    upstream?.close();
  });

  const sent = { ...OVERRIDES, Accept: 'application/json', 'Content-Type': 'application/json', 'X-Trace-Id': 'trace-1', 'X-Custom': 'custom' };
  const tool = (extra: Record<string, unknown> = {}) => ({
    name: 'api',
    type: 'http',
    origin,
    methods: ['GET', 'POST'],
    pathPrefixes: ['/v1/'],
    injectHeaders: { 'X-Api-Key': { secret: 'API_KEY' } },
    ...extra,
  });

  describe('to a tool that lists none', () => {
    let gw: GatewayHarness;
    beforeAll(async () => {
      gw = await startGatewayHarness('gwhdrdefault', [tool()], { API_KEY: SECRET });
    });
    afterAll(async () => {
      await gw?.close();
    });

    it('forwards only the default list; no override reaches the upstream', async () => {
      const reply = await gw.call('/tools/api/v1/items', { method: 'POST', headers: sent, body: '{}' });
      expect(reply.status).toBe(200);
      const got = seen[seen.length - 1]!;
      expect(got['x-api-key']).toBe(SECRET);
      expect(got['accept']).toBe('application/json');
      expect(got['content-type']).toBe('application/json');
      for (const name of [...Object.keys(OVERRIDES), 'X-Trace-Id', 'X-Custom']) expect(got[name.toLowerCase()], name).toBeUndefined();
    });
  });

  describe('to a tool with its own list', () => {
    let gw: GatewayHarness;
    beforeAll(async () => {
      gw = await startGatewayHarness('gwhdrlisted', [tool({ forwardHeaders: ['X-Trace-Id'] })], { API_KEY: SECRET });
    });
    afterAll(async () => {
      await gw?.close();
    });

    it('forwards exactly that list, and still never an override', async () => {
      const reply = await gw.call('/tools/api/v1/items', { headers: sent });
      expect(reply.status).toBe(200);
      const got = seen[seen.length - 1]!;
      expect(got['x-trace-id']).toBe('trace-1');
      expect(got['x-api-key']).toBe(SECRET);
      for (const name of [...Object.keys(OVERRIDES), 'Accept', 'Content-Type', 'X-Custom']) expect(got[name.toLowerCase()], name).toBeUndefined();
    });
  });
});
