/**
 * Issue 10, audit flood from inside the sandbox: a job made ~400 refused gateway calls per
 * second, each its own 2.6 KB audit record. Through the worker's real wiring (JobGrants: a
 * credential, the gateway, the audit store on real Redis) a burst of refused calls now meets
 * the per-job rate limit (429 with Retry-After) and costs one summary record per window whose
 * counts add up to the calls made; each forwarded call still has a record of its own.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAuditStore, type AuditRecord } from '../src/audit/index.js';
import { ApiKeyStore, JobCredentialIssuer, parseJobCredentialOptions } from '../src/credentials/index.js';
import { parseTools } from '../src/gateway/index.js';
import { JobGrants } from '../src/queue/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { callGateway, type GatewayReply } from './helpers/gateway-harness.js';
import { deletePrefix, testRedis, uniquePrefix } from './helpers/redis.js';

const JOB = 'job_auditflood0001';
const BURST_CALLS = 300;

describe('a burst of refused gateway calls', () => {
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let upstream: Server;
  let audit: RedisAuditStore;
  let records: AuditRecord[];
  const replies: GatewayReply[] = [];
  let allowed: GatewayReply[] = [];

  beforeAll(async () => {
    redis = testRedis();
    prefix = uniquePrefix('gwflood');
    dir = await mkdtemp(join(tmpdir(), 'airlock-gwflood-'));
    upstream = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const clock = systemClock;
    const issuer = await JobCredentialIssuer.open({ redis, prefix, clock, keyDir: join(dir, 'keys'), options: parseJobCredentialOptions() });
    const key = await new ApiKeyStore(redis, prefix, clock).create({ role: 'agent', tools: ['api'] });
    audit = new RedisAuditStore({ redis, prefix });
    const grants = new JobGrants({
      issuer,
      tools: parseTools([{ name: 'api', type: 'http', origin, methods: ['GET'], pathPrefixes: ['/v1/'] }]),
      resolveSecret: () => undefined,
      gatewayDir: join(dir, 'gw'),
      audit,
      workerId: 'worker-flood',
      logger: createLogger({ level: 'silent' }),
    });
    const grant = await grants.open({ jobId: JOB, keyId: key.id, profile: 'python', tools: ['api'], deadlineMs: Date.now() + 5 * 60_000, attempt: 1 });
    try {
      const socket = join(grant.dir, 'gateway.sock');
      const token = (await readFile(join(grant.dir, 'token'), 'utf8')).trim();
      // what a looping job does: wrong token, ungranted tool, forbidden path, as fast as it can
      const refusedCall = (i: number) =>
        i % 3 === 0 ? callGateway(socket, '/tools/api/v1/x', { token: 'not-a-token' }) : callGateway(socket, i % 3 === 1 ? '/tools/other/x' : '/tools/api/admin', { token });
      for (let i = 0; i < BURST_CALLS; i += 10) replies.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => refusedCall(i + j)))));
      // the bucket refills at its rate: forwarded calls go through again
      await new Promise((r) => setTimeout(r, 1100));
      allowed = [await callGateway(socket, '/tools/api/v1/a', { token }), await callGateway(socket, '/tools/api/v1/b', { token })];
    } finally {
      await grant.close();
    }
    const head = await audit.head();
    records = (await audit.readRaw(1, head.seq)).flatMap((raw) => (raw === null ? [] : [JSON.parse(raw) as AuditRecord])).filter((r) => r.action === 'gateway.call');
  });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis?.disconnect();
    upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is rate limited: 429 rate_limited with Retry-After past the burst', () => {
    const limited = replies.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(BURST_CALLS / 2);
    for (const r of limited) {
      expect(JSON.parse(r.text).error.code).toBe('rate_limited');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(replies.filter((r) => r.status !== 429).every((r) => [401, 403].includes(r.status))).toBe(true);
    expect(allowed.map((r) => [r.status, r.text])).toEqual([
      [200, 'ok'],
      [200, 'ok'],
    ]);
  });

  it('costs a bounded number of records whose counts add up; forwarded calls keep one record each', () => {
    const summaries = records.filter((r) => r.details?.['summary'] === true);
    const forwarded = records.filter((r) => r.details?.['summary'] !== true);
    expect(forwarded.map((r) => [r.outcome?.result, r.request?.route])).toEqual([
      ['allowed', expect.stringMatching(/\/v1\/a$/)],
      ['allowed', expect.stringMatching(/\/v1\/b$/)],
    ]);
    // the whole burst falls in one 10 s window (two if it straddles one)
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThanOrEqual(2);
    const count = summaries.reduce((n, r) => n + (r.details?.['count'] as number), 0);
    expect(count).toBe(BURST_CALLS);
    const outcomes: Record<string, number> = {};
    for (const r of summaries) for (const [k, v] of Object.entries(r.details?.['outcomes'] as Record<string, number>)) outcomes[k] = (outcomes[k] ?? 0) + v;
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(BURST_CALLS);
    expect(outcomes['rate_limited']).toBe(replies.filter((r) => r.status === 429).length);
    expect(outcomes['credential_invalid']).toBe(replies.filter((r) => r.status === 401).length);
    expect(Object.keys(outcomes).sort()).toEqual(expect.arrayContaining(['credential_invalid', 'rate_limited']));
    for (const r of summaries) {
      expect(r).toMatchObject({ target: JOB, outcome: { result: 'refused' }, actor: { type: 'worker', workerId: 'worker-flood' } });
      expect(Date.parse(r.details?.['firstAt'] as string)).toBeLessThanOrEqual(Date.parse(r.details?.['lastAt'] as string));
    }
  });
});
