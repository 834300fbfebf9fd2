/**
 * The granted-tools gateway end to end: a real node:http upstream on 127.0.0.1, real Redis
 * for the job credentials, the gateway on a Unix socket in a temp dir, called the way a
 * sandboxed program would (http.request with socketPath).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, JobCredentialIssuer, JobCredentialVerifier, parseJobCredentialOptions, type MintInput } from '../src/credentials/index.js';
import { ToolGateway, gatewayCallAuditEvent, parseTools, type GatewayCallReport, type RunningToolGateway } from '../src/gateway/index.js';
import { FakeClock } from './helpers/fake-clock.js';
import { deletePrefix, testRedis, uniquePrefix } from './helpers/redis.js';

const SECRET = 'stg-secret-7f3a9c1e5b';
const JOB = 'job_gatewaytest01';
const MIN = 60_000;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A call from inside the sandbox: HTTP over the gateway's Unix socket. */
function call(
  socketPath: string,
  path: string,
  opts: { method?: string; token?: string; headers?: Record<string, string>; body?: Buffer; chunks?: Buffer[] } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const headers: Record<string, string> = { ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }), ...opts.headers };
    const req = request({ socketPath, path, method: opts.method ?? 'GET', headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // the gateway may answer (and close) before a refused body is fully sent
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (opts.chunks !== undefined) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}

function errorCode(reply: Reply): string {
  return JSON.parse(reply.body).error.code;
}

interface Upstream {
  server: Server;
  origin: string;
  seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  /** Resolves when the big response's connection closed: how many bytes it had written, and whether it finished. */
  bigDone: Promise<{ written: number; finished: boolean }>;
  slowClosed: Promise<void>;
}

async function startUpstream(otherOrigin: () => string): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  let bigResolve!: (v: { written: number; finished: boolean }) => void;
  let slowResolve!: () => void;
  const bigDone = new Promise<{ written: number; finished: boolean }>((r) => (bigResolve = r));
  const slowClosed = new Promise<void>((r) => (slowResolve = r));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const path = (req.url ?? '').split('?')[0];
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      switch (path) {
        case '/fixtures/echo':
          res.writeHead(200, { 'content-type': 'application/json', 'x-echo-key': String(req.headers['x-api-key']), 'set-cookie': 'session=abc' });
          res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }));
          return;
        case '/fixtures/big': {
          let written = 0;
          const chunk = Buffer.alloc(16 * 1024, 'x');
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const pump = (): void => {
            while (written < 50 * 1024 * 1024 && !res.destroyed) {
              written += chunk.length;
              if (!res.write(chunk)) return void res.once('drain', pump);
            }
            if (!res.destroyed) res.end();
          };
          res.on('close', () => bigResolve({ written, finished: res.writableFinished }));
          pump();
          return;
        }
        case '/fixtures/slow':
          res.on('close', () => slowResolve());
          return; // never answers
        case '/fixtures/redirect-away':
          res.writeHead(302, { location: `${otherOrigin()}/fixtures/plain` });
          res.end('moved');
          return;
        case '/fixtures/redirect-here':
          res.writeHead(302, { location: '/fixtures/plain?x=1' });
          res.end('moved');
          return;
        default:
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`hello ${path}`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}`, seen, bigDone, slowClosed };
}

describe('granted-tools gateway', () => {
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let clock: FakeClock;
  let issuer: JobCredentialIssuer;
  let upstream: Upstream;
  let elsewhere: Server;
  let elsewhereOrigin: string;
  let gateway: RunningToolGateway;
  let socketPath: string;
  let token: string;
  const reports: GatewayCallReport[] = [];
  const replies: Reply[] = [];
  const tokens: string[] = [];

  let liveKeyId = '';
  const grant = (over: Partial<MintInput> = {}): MintInput => ({
    jobId: JOB,
    keyId: liveKeyId,
    profile: 'python',
    tools: ['staging', 'ghost'],
    deadlineMs: clock.now() + 10 * MIN,
    ...over,
  });
  const mint = async (over: Partial<MintInput> = {}) => {
    const minted = await issuer.mint(grant(over));
    tokens.push(minted.token);
    return minted;
  };

  /** Makes one call and checks it produced exactly one report, with this outcome. */
  async function expectCall(path: string, outcome: string, opts: Parameters<typeof call>[2] = {}): Promise<{ reply: Reply; report: GatewayCallReport }> {
    const before = reports.length;
    const reply = await call(socketPath, path, { token, ...opts });
    replies.push(reply);
    expect(reports.length - before, `reports for ${path}`).toBe(1);
    const report = reports[reports.length - 1]!;
    expect(report.outcome).toBe(outcome);
    expect(report.status).toBe(reply.status);
    if (outcome !== 'allowed') expect(errorCode(reply)).toBe(outcome);
    return { reply, report };
  }

  beforeAll(async () => {
    redis = testRedis();
    prefix = uniquePrefix('gateway');
    dir = await mkdtemp(join(tmpdir(), 'airlock-gateway-'));
    clock = new FakeClock();
    issuer = await JobCredentialIssuer.open({ redis, prefix, clock, keyDir: join(dir, 'keys'), options: parseJobCredentialOptions() });
    // a credential is minted only for a live API key (issue 10)
    liveKeyId = (await new ApiKeyStore(redis, prefix, clock).create({ role: 'agent' })).id;
    elsewhere = createServer((_req, res) => res.end('elsewhere'));
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
    elsewhereOrigin = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    upstream = await startUpstream(() => elsewhereOrigin);
    const tools = parseTools([
      {
        name: 'staging',
        type: 'http',
        origin: upstream.origin,
        methods: ['GET', 'POST'],
        pathPrefixes: ['/fixtures/'],
        injectHeaders: { 'X-Api-Key': { secret: 'STAGING_KEY' } },
        // an allow-list (issue 10): x-custom is forwarded because it is listed, x-hop although listed is dropped by Connection
        forwardHeaders: ['Content-Type', 'X-Custom', 'X-Hop'],
        maxRequestBytes: 1024,
        maxResponseBytes: 64 * 1024,
        timeoutMs: 500,
      },
      { name: 'billing', type: 'http', origin: elsewhereOrigin, methods: ['GET'], pathPrefixes: ['/'] },
    ]);
    const gw = new ToolGateway({
      jobId: JOB,
      verifier: issuer,
      tools,
      resolveSecret: (name) => (name === 'STAGING_KEY' ? SECRET : undefined),
      onCall: (r) => {
        reports.push(r);
      },
      maxConcurrentCalls: 2,
    });
    socketPath = join(dir, 'gateway.sock');
    gateway = await gw.start(socketPath);
    token = (await mint()).token;
  });

  afterAll(async () => {
    try {
      await gateway?.close();
      await deletePrefix(redis, prefix);
    } finally {
      redis.disconnect();
      upstream?.server.closeAllConnections();
      upstream?.server.close();
      elsewhere?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves on a socket the sandbox user can connect to', async () => {
    expect((await stat(socketPath)).isSocket()).toBe(true);
    expect((await stat(socketPath)).mode & 0o777).toBe(0o666);
  });

  it('forwards a granted GET with the injected secret; the job never sees the secret', async () => {
    const seenBefore = upstream.seen.length;
    const { reply, report } = await expectCall('/tools/staging/fixtures/echo?page=2', 'allowed', {
      headers: {
        cookie: 'c=1',
        'x-forwarded-for': '10.0.0.1',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'x-api-key': 'forged-by-the-job',
        'x-custom': 'kept',
        'x-hop': 'dropped',
        connection: 'keep-alive, x-hop',
      },
    });
    expect(reply.status).toBe(200);
    expect(upstream.seen.length).toBe(seenBefore + 1);
    const got = upstream.seen[upstream.seen.length - 1]!;
    expect(got.url).toBe('/fixtures/echo?page=2');
    expect(got.headers['x-api-key']).toBe(SECRET);
    expect(got.headers['x-custom']).toBe('kept');
    expect(got.headers.host).toBe(new URL(upstream.origin).host);
    for (const h of ['authorization', 'cookie', 'x-forwarded-for', 'proxy-authorization', 'x-hop']) expect(got.headers[h], h).toBeUndefined();
    // the upstream echoed the secret in body and headers: masked on the way back
    expect(reply.body).not.toContain(SECRET);
    expect(JSON.stringify(reply.headers)).not.toContain(SECRET);
    expect(JSON.parse(reply.body).headers['x-api-key']).toBe('[redacted]');
    expect(reply.headers['x-echo-key']).toBe('[redacted]');
    expect(reply.headers['set-cookie']).toBeUndefined();
    expect(report).toMatchObject({
      jobId: JOB,
      tool: 'staging',
      method: 'GET',
      url: `${upstream.origin}/fixtures/echo`,
      status: 200,
      requestBytes: 0,
      responseBytes: Buffer.byteLength(reply.body),
      outcome: 'allowed',
    });
    expect(report.jti).toMatch(/^jti_/);
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('forwards a POST body within the cap', async () => {
    const { reply, report } = await expectCall('/tools/staging/fixtures/echo', 'allowed', {
      method: 'POST',
      body: Buffer.from('{"a":1}'),
      headers: { 'content-type': 'application/json' },
    });
    expect(JSON.parse(reply.body)).toMatchObject({ method: 'POST', body: '{"a":1}' });
    expect(report.requestBytes).toBe(7);
  });

  it('refuses missing, revoked, expired, tampered and other jobs\u2019 credentials alike', async () => {
    const seenBefore = upstream.seen.length;
    const path = '/tools/staging/fixtures/plain';
    const refusals: Array<[string | undefined, string]> = [];
    refusals.push([undefined, 'missing bearer token']);
    refusals.push(['not-a-token', 'malformed']);

    const revoked = await mint();
    await issuer.revoke(revoked.jti);
    refusals.push([revoked.token, 'revoked']);

    const other = await mint({ jobId: 'job_someoneelse1', tools: ['staging'] });
    refusals.push([other.token, 'other_job']);

    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.airlock.tools.push('billing');
    refusals.push([`${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`, 'bad_signature']);

    const messages = new Set<string>();
    for (const [t, reason] of refusals) {
      const { reply, report } = await expectCall(path, 'credential_invalid', { token: t as string });
      expect(reply.status).toBe(401);
      expect(report.reason).toBe(reason);
      messages.add(JSON.parse(reply.body).error.message);
    }

    const shortLived = await mint({ deadlineMs: clock.now() + MIN, graceMs: 0 });
    const { reply: fresh } = await expectCall(path, 'allowed', { token: shortLived.token });
    expect(fresh.body).toBe('hello /fixtures/plain');
    const now = clock.ms;
    clock.ms = now + 2 * MIN;
    try {
      const { report } = await expectCall(path, 'credential_invalid', { token: shortLived.token });
      expect(report.reason).toBe('expired');
    } finally {
      clock.ms = now;
    }
    expect(messages.size).toBe(1); // the job is never told why
    expect(upstream.seen.length).toBe(seenBefore + 1);
  });

  it('refuses tools that are not granted, not configured, or not addressed', async () => {
    const seenBefore = upstream.seen.length;
    expect((await expectCall('/tools/billing/anything', 'tool_not_granted')).reply.status).toBe(403);
    expect((await expectCall('/tools/nonexistent/x', 'tool_not_granted')).reply.status).toBe(403);
    expect((await expectCall('/tools/Staging/fixtures/plain', 'tool_not_granted')).reply.status).toBe(403);
    expect((await expectCall('/tools/ghost/fixtures/plain', 'tool_unknown')).reply.status).toBe(404);
    expect((await expectCall('/fixtures/plain', 'route_not_found')).reply.status).toBe(404);
    expect(upstream.seen.length).toBe(seenBefore);
  });

  it('refuses other methods', async () => {
    const { reply } = await expectCall('/tools/staging/fixtures/plain', 'method_not_allowed', { method: 'DELETE' });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, POST');
  });

  it('refuses paths outside the prefixes, including traversal tricks', async () => {
    const seenBefore = upstream.seen.length;
    const paths = [
      '/tools/staging/private/x',
      '/tools/staging/',
      '/tools/staging',
      '/tools/staging/fixtures-evil/x',
      '/tools/staging/fixturesx',
      '/tools/staging/fixtures/../private/x',
      '/tools/staging/fixtures/%2e%2e/private/x',
      '/tools/staging/fixtures/%2E%2E/private/x',
      '/tools/staging/fixtures/.%2e/private/x',
      '/tools/staging/fixtures/..%2fprivate',
      '/tools/staging/fixtures%2f..%2fprivate',
      '/tools/staging/fixtures//private',
      '/tools/staging//fixtures/a',
      '/tools/staging/fixtures\\..\\private',
      '/tools/staging/fixtures/%5c..%5cprivate',
      '/tools/staging/fixtures/%252e%252e/private',
      '/tools/staging/fixtures/..;/private',
      '/tools/staging/./fixtures/a',
      '/tools/staging/fixtures/a/%00',
      '/tools/staging/fixtures/%zz',
    ];
    for (const path of paths) {
      const { reply } = await expectCall(path, 'path_not_allowed');
      expect(reply.status, path).toBe(403);
    }
    expect(upstream.seen.length).toBe(seenBefore);
    // the same folder, spelled with an encoded letter, is the same segment
    expect((await expectCall('/tools/staging/fixt%75res/plain', 'allowed')).reply.status).toBe(200);
  });

  it('refuses request bodies over the cap, declared or streamed', async () => {
    const seenBefore = upstream.seen.length;
    const declared = await expectCall('/tools/staging/fixtures/echo', 'request_too_large', { method: 'POST', body: Buffer.alloc(2048, 'a') });
    expect(declared.reply.status).toBe(413);
    const streamed = await expectCall('/tools/staging/fixtures/echo', 'request_too_large', { method: 'POST', chunks: [Buffer.alloc(600, 'a'), Buffer.alloc(600, 'b')] });
    expect(streamed.reply.status).toBe(413);
    expect(streamed.report.requestBytes).toBeGreaterThan(1024);
    expect(upstream.seen.length).toBe(seenBefore);
  });

  it('refuses a response over the cap and stops reading it', async () => {
    const { reply } = await expectCall('/tools/staging/fixtures/big', 'response_too_large');
    expect(reply.status).toBe(502);
    const big = await upstream.bigDone;
    expect(big.finished).toBe(false);
    expect(big.written).toBeLessThan(50 * 1024 * 1024);
  });

  it('times out a silent upstream; caps calls in flight', async () => {
    const slow = call(socketPath, '/tools/staging/fixtures/slow', { token });
    const slow2 = call(socketPath, '/tools/staging/fixtures/slow', { token });
    await new Promise((r) => setTimeout(r, 100));
    const before = reports.length;
    const third = await call(socketPath, '/tools/staging/fixtures/plain', { token });
    replies.push(third);
    expect(third.status).toBe(429);
    expect(errorCode(third)).toBe('too_many_calls');
    expect(reports.length).toBe(before + 1);
    for (const reply of await Promise.all([slow, slow2])) {
      replies.push(reply);
      expect(reply.status).toBe(504);
      expect(errorCode(reply)).toBe('upstream_timeout');
    }
    expect(reports.slice(-2).map((r) => r.outcome)).toEqual(['upstream_timeout', 'upstream_timeout']);
    await upstream.slowClosed;
  });

  it('refuses a redirect to another origin and passes a same-origin one back without following it', async () => {
    const away = await expectCall('/tools/staging/fixtures/redirect-away', 'redirect_refused');
    expect(away.reply.status).toBe(502);
    expect(away.reply.body).not.toContain(elsewhereOrigin);
    const seenBefore = upstream.seen.length;
    const here = await expectCall('/tools/staging/fixtures/redirect-here', 'allowed');
    expect(here.reply.status).toBe(302);
    expect(here.reply.headers.location).toBe('/tools/staging/fixtures/plain?x=1');
    expect(upstream.seen.length).toBe(seenBefore + 1); // not followed
  });

  it('keeps a token the job puts in the path out of the report', async () => {
    const { report } = await expectCall(`/tools/staging/fixtures/${token}`, 'allowed');
    expect(report.url).toBe(`${upstream.origin}/fixtures/[redacted]`);
    const named = await expectCall(`/tools/${token}/fixtures/plain`, 'tool_not_granted');
    expect(named.report.tool).toBeNull();
  });

  it('answers 503 when the credential cannot be checked (Redis unreachable), and reports why', async () => {
    const deadRedis = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: null, retryStrategy: () => 1000 });
    deadRedis.on('error', () => {});
    const ownReports: GatewayCallReport[] = [];
    const gw = new ToolGateway({
      jobId: JOB,
      verifier: new JobCredentialVerifier({ redis: deadRedis, prefix, clock }),
      tools: parseTools([{ name: 'staging', type: 'http', origin: upstream.origin, methods: ['GET'], pathPrefixes: ['/fixtures/'] }]),
      resolveSecret: () => undefined,
      onCall: (r) => {
        ownReports.push(r);
      },
      verifyTimeoutMs: 300,
    });
    const running = await gw.start(join(dir, 'dead.sock'));
    try {
      const reply = await call(running.socketPath, '/tools/staging/fixtures/plain', { token });
      expect(reply.status).toBe(503);
      expect(errorCode(reply)).toBe('gateway_unavailable');
      expect(ownReports.map((r) => [r.outcome, r.reason])).toEqual([['gateway_unavailable', 'credential check timed out']]);
    } finally {
      await running.close();
      deadRedis.disconnect();
    }
  });

  it('maps a report onto an audit event for gateway.call', () => {
    const report = reports.find((r) => r.outcome === 'allowed')!;
    expect(gatewayCallAuditEvent(report, 'worker-1')).toEqual({
      actor: { type: 'worker', workerId: 'worker-1' },
      action: 'gateway.call',
      target: JOB,
      request: { method: report.method, route: report.url },
      outcome: { status: report.status, result: 'allowed' },
      bytes: { request: report.requestBytes, response: report.responseBytes },
      durationMs: report.durationMs,
      details: { tool: 'staging', jti: report.jti },
    });
  });

  it('no report and no response carries a token or the secret', () => {
    expect(reports.length).toBeGreaterThan(30);
    const all = JSON.stringify(reports) + JSON.stringify(reports.map((r) => gatewayCallAuditEvent(r, 'w')));
    expect(all).not.toContain(SECRET);
    for (const t of tokens) {
      expect(all).not.toContain(t);
      expect(all).not.toContain(t.split('.')[2]);
    }
    expect(JSON.stringify(replies)).not.toContain(SECRET);
  });

  it('close removes the socket, refuses further calls and is idempotent', async () => {
    await gateway.close();
    await gateway.close();
    await expect(stat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(call(socketPath, '/tools/staging/fixtures/plain', { token })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
