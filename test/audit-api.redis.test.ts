/**
 * The audit hook and routes over the live HTTP API (API role: no worker, jobs stay queued).
 * Every request — accepted or refused — leaves exactly one record, counted through the store
 * (the chain head) before and after; secrets never reach Redis; the routes page, filter,
 * verify and keep other keys' jobs hidden.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAuditStore, parseRecord, type AuditRecord } from '../src/audit/index.js';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { dumpAuditKeys } from './helpers/audit.js';
import { testRedis } from './helpers/redis.js';

type Res = Awaited<ReturnType<TestAirlock['request']>>;

const JOB = { runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] };
const ANONYMOUS = { type: 'key', keyId: 'anonymous', role: 'unauthenticated' };

function expectError(res: Res, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
}

describe('audit: one record per API request', () => {
  let t: TestAirlock;
  let redis: Redis;
  let store: RedisAuditStore;
  let admin: CreatedApiKey;
  let agent: CreatedApiKey;
  let otherAgent: CreatedApiKey;
  let reviewer: CreatedApiKey;

  beforeAll(async () => {
    t = await startTestAirlock('audit-api', { AIRLOCK_ROLE: 'api' });
    redis = testRedis();
    store = new RedisAuditStore({ redis, prefix: t.prefix });
    // keys made through the store, not the API: no records yet
    [admin, agent, otherAgent, reviewer] = [await t.key('admin'), await t.key('agent'), await t.key('agent'), await t.key('reviewer')];
  });
  afterAll(async () => {
    redis?.disconnect();
    await t?.stop();
  });

  /** Runs one request and returns its response and the single record it left. */
  async function audited(send: () => Promise<Res>): Promise<{ res: Res; record: AuditRecord }> {
    const before = (await store.head()).seq;
    const res = await send();
    const after = (await store.head()).seq;
    expect(after - before, `records written by one request (${JSON.stringify(res.body).slice(0, 200)})`).toBe(1);
    const [raw] = await store.readRaw(after, 1);
    const record = parseRecord(raw ?? '');
    expect(record).not.toBeNull();
    return { res, record: record! };
  }
  const call = (method: string, path: string, key: string | undefined, body?: unknown) => audited(() => t.request(method, path, key, body));
  const rawFetch = (path: string, authorization: string) =>
    audited(async () => {
      const res = await fetch(`${t.baseUrl}${path}`, { headers: { authorization } });
      return { status: res.status, body: JSON.parse(await res.text()) };
    });
  const submit = async (key: CreatedApiKey, body: unknown = JOB): Promise<string> => {
    const { res } = await call('POST', '/v1/jobs', key.key, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.id as string;
  };
  const actorOf = (k: CreatedApiKey) => ({ type: 'key', keyId: k.id, role: k.role });

  describe('refused requests', () => {
    it('401 without a key: anonymous actor, auth.denied, the route it tried', async () => {
      const { res, record } = await call('GET', '/v1/profiles', undefined);
      expectError(res, 401, 'UNAUTHORIZED');
      expect(record).toMatchObject({
        actor: ANONYMOUS,
        action: 'auth.denied',
        target: null,
        outcome: { status: 401, error: 'UNAUTHORIZED' },
        request: { method: 'GET', route: '/v1/profiles', ip: expect.any(String) },
        details: { attempted: 'request' },
      });
    });

    it('401 with a wrong secret for a real key id: names the claimed key, never the secret', async () => {
      const forged = `ak_${agent.id.slice('key_'.length)}_${randomBytes(32).toString('base64url')}`;
      const { res, record } = await call('POST', '/v1/jobs', forged, JOB);
      expectError(res, 401, 'UNAUTHORIZED');
      expect(record).toMatchObject({ actor: ANONYMOUS, action: 'auth.denied', outcome: { status: 401, error: 'UNAUTHORIZED' } });
      expect(record.details).toEqual({ attempted: 'job.submit', claimedKeyId: agent.id });
      expect(JSON.stringify(record)).not.toContain(forged.slice(20));
    });

    it('401 with a malformed header', async () => {
      const { res, record } = await rawFetch('/v1/keys', 'Basic dXNlcjpwYXNz');
      expectError(res, 401, 'UNAUTHORIZED');
      expect(record).toMatchObject({ actor: ANONYMOUS, action: 'auth.denied', details: { attempted: 'key.list' } });
      expect(JSON.stringify(record)).not.toContain('dXNlcjpwYXNz');
    });

    it('401 with a revoked key', async () => {
      const k = await t.key('agent');
      await t.airlock.keys.revoke(k.id);
      const { res, record } = await call('GET', '/v1/profiles', k.key);
      expectError(res, 401, 'UNAUTHORIZED');
      expect(record).toMatchObject({ actor: ANONYMOUS, action: 'auth.denied', details: { claimedKeyId: k.id } });
    });

    it('403 for a role that may not use the route: auth.denied with the key as actor, nothing queued', async () => {
      const waiting = await redis.llen(`{${t.prefix}}:jobs:wait`);
      const { res, record } = await call('POST', '/v1/jobs', reviewer.key, JOB);
      expectError(res, 403, 'FORBIDDEN');
      expect(await redis.llen(`{${t.prefix}}:jobs:wait`)).toBe(waiting);
      expect(record).toMatchObject({ actor: actorOf(reviewer), action: 'auth.denied', outcome: { status: 403, error: 'FORBIDDEN' }, details: { attempted: 'job.submit' } });
      const keys = await call('GET', '/v1/keys', agent.key);
      expectError(keys.res, 403, 'FORBIDDEN');
      expect(keys.record).toMatchObject({ actor: actorOf(agent), action: 'auth.denied', details: { attempted: 'key.list' } });
    });

    it('403 about the request itself (a field the profile does not allow) keeps its route action', async () => {
      const { res, record } = await call('POST', '/v1/jobs', agent.key, { runtime: 'python', files: [{ path: 'main.py', content: 'x' }], stdin: 'x' });
      if (res.status === 202) return; // the python profile allows stdin here: nothing to check
      expectError(res, 403, 'FORBIDDEN');
      expect(record).toMatchObject({ actor: actorOf(agent), action: 'job.submit', outcome: { status: 403, error: 'FORBIDDEN' } });
    });

    // issue 10 changed this: the record no longer names the job (it would land in the owner's trail)
    it("404 for another key's job: job.read by that key, the id in its params but not as target", async () => {
      const id = await submit(agent);
      for (const method of ['GET', 'DELETE'] as const) {
        const { res, record } = await call(method, `/v1/jobs/${id}`, otherAgent.key);
        expectError(res, 404, 'JOB_NOT_FOUND');
        expect(record).toMatchObject({
          actor: actorOf(otherAgent),
          action: method === 'GET' ? 'job.read' : 'job.cancel',
          target: null,
          outcome: { status: 404, error: 'JOB_NOT_FOUND' },
          request: { method, route: '/v1/jobs/:id', params: { id } },
        });
      }
    });

    it('400 for bad input: job.submit with the error code, no target, no digest', async () => {
      const { res, record } = await call('POST', '/v1/jobs', agent.key, { runtime: 'cobol' });
      expectError(res, 400, 'INVALID_REQUEST');
      expect(record).toMatchObject({ actor: actorOf(agent), action: 'job.submit', target: null, outcome: { status: 400, error: 'INVALID_REQUEST' } });
      expect(record.request?.codeDigest).toBeUndefined();
      expect(record.bytes?.request).toBeGreaterThan(0);
    });

    it('400 for malformed JSON and 415 for another media type', async () => {
      const post = (body: string, type: string) =>
        audited(async () => {
          const r = await fetch(`${t.baseUrl}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${agent.key}`, 'content-type': type }, body });
          return { status: r.status, body: JSON.parse(await r.text()) };
        });
      const bad = await post('{"runtime":', 'application/json');
      expectError(bad.res, 400, 'MALFORMED_JSON');
      expect(bad.record).toMatchObject({ action: 'job.submit', outcome: { status: 400, error: 'MALFORMED_JSON' } });
      const text = await post('hello', 'text/plain');
      expectError(text.res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(text.record).toMatchObject({ action: 'job.submit', outcome: { status: 415, error: 'UNSUPPORTED_MEDIA_TYPE' } });
    });

    it('an unknown route: action request, the path as route; without a key it is a 401 first', async () => {
      const { res, record } = await call('GET', '/v1/nothing/here?x=1', agent.key);
      expectError(res, 404, 'ROUTE_NOT_FOUND');
      expect(record).toMatchObject({
        actor: actorOf(agent),
        action: 'request',
        target: null,
        request: { method: 'GET', route: '/v1/nothing/here', params: { query: { x: '1' } } },
        outcome: { status: 404, error: 'ROUTE_NOT_FOUND' },
      });
      const anon = await call('PUT', '/v1/jobs', undefined);
      expectError(anon.res, 401, 'UNAUTHORIZED');
      expect(anon.record).toMatchObject({ actor: ANONYMOUS, action: 'auth.denied', details: { attempted: 'request' } });
    });

    it('409 on cancelling a finished job', async () => {
      const id = await submit(agent);
      await redis.hset(`{${t.prefix}}:job:${id}`, 'status', 'succeeded'); // no worker here: finish it by hand
      const { res, record } = await call('DELETE', `/v1/jobs/${id}`, agent.key);
      expectError(res, 409, 'JOB_ALREADY_FINISHED');
      expect(record).toMatchObject({ action: 'job.cancel', target: id, outcome: { status: 409, error: 'JOB_ALREADY_FINISHED' } });
    });
  });

  describe('accepted requests', () => {
    it('job.submit names the new job and the digest of its code; job.read and job.cancel follow', async () => {
      const { res, record } = await call('POST', '/v1/jobs', agent.key, JOB);
      expect(res.status).toBe(202);
      const id = res.body.id as string;
      expect(record).toMatchObject({
        actor: actorOf(agent),
        action: 'job.submit',
        target: id,
        outcome: { status: 202 },
        request: { method: 'POST', route: '/v1/jobs', codeDigest: expect.stringMatching(/^[0-9a-f]{64}$/) },
        bytes: { request: Buffer.byteLength(JSON.stringify(JOB)), response: expect.any(Number) },
        durationMs: expect.any(Number),
      });
      expect(record.outcome?.error).toBeUndefined();
      expect(record.bytes?.response).toBeGreaterThan(0);
      // the same code gives the same digest; other code another one
      const again = await call('POST', '/v1/jobs', agent.key, JOB);
      expect(again.record.request?.codeDigest).toBe(record.request?.codeDigest);
      const other = await call('POST', '/v1/jobs', agent.key, { ...JOB, files: [{ path: 'main.sh', content: 'echo bye' }] });
      expect(other.record.request?.codeDigest).not.toBe(record.request?.codeDigest);

      const read = await call('GET', `/v1/jobs/${id}?wait=0`, agent.key);
      expect(read.res.status).toBe(200);
      expect(read.record).toMatchObject({ action: 'job.read', target: id, outcome: { status: 200 }, request: { params: { id, query: { wait: '0' } } } });
      const cancel = await call('DELETE', `/v1/jobs/${id}`, admin.key);
      expect(cancel.res.status).toBe(200);
      expect(cancel.record).toMatchObject({ actor: actorOf(admin), action: 'job.cancel', target: id, outcome: { status: 200 } });
    });

    it('key.create names the new key and never its secret; key.list and key.revoke', async () => {
      const { res, record } = await call('POST', '/v1/keys', admin.key, { role: 'agent', name: 'ci-bot', owner: 'team-a' });
      expect(res.status).toBe(201);
      const created = res.body as CreatedApiKey;
      expect(record).toMatchObject({
        actor: actorOf(admin),
        action: 'key.create',
        target: created.id,
        outcome: { status: 201 },
        details: { role: 'agent', name: 'ci-bot', owner: 'team-a' },
      });
      expect(JSON.stringify(record)).not.toContain(created.key.slice(20));
      const list = await call('GET', '/v1/keys', admin.key);
      expect(list.record).toMatchObject({ action: 'key.list', target: null, outcome: { status: 200 } });
      const revoke = await call('DELETE', `/v1/keys/${created.id}`, admin.key);
      expect(revoke.res.status).toBe(200);
      expect(revoke.record).toMatchObject({ action: 'key.revoke', target: created.id, request: { route: '/v1/keys/:id', params: { id: created.id } } });
    });

    it('any other route is a request', async () => {
      const { res, record } = await call('GET', '/v1/profiles', reviewer.key);
      expect(res.status).toBe(200);
      expect(record).toMatchObject({ actor: actorOf(reviewer), action: 'request', request: { route: '/v1/profiles' }, outcome: { status: 200 } });
    });

    it('/healthz and /readyz are not audited', async () => {
      const before = (await store.head()).seq;
      expect((await t.request('GET', '/healthz', undefined)).status).toBe(200);
      await t.request('GET', '/readyz', undefined); // 503 without a worker: still a probe
      expect((await store.head()).seq).toBe(before);
      // but another method on the same path is an unknown route, and audited
      expect((await call('POST', '/healthz', admin.key)).record).toMatchObject({ action: 'request', outcome: { status: 404 } });
    });
  });

  it('secrets in a submission, a query string or a header never reach the audit keys in Redis', async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const aws = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const leaked = admin.key;
    const body = {
      runtime: 'shell',
      files: [
        { path: 'main.sh', content: `echo ${leaked}` },
        { path: 'key.pem', content: pem },
      ],
      stdin: `AWS_ACCESS_KEY_ID=${aws}\n${leaked}\n`,
      env: { API_TOKEN: leaked, AWS_KEY: aws },
    };
    const { res } = await call('POST', '/v1/jobs', agent.key, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    // refused, but recorded: a secret in the query string and in the path
    await call('GET', `/v1/jobs/${res.body.id as string}?token=${leaked}`, agent.key);
    await call('GET', `/v1/${leaked}`, agent.key);
    const created = await call('POST', '/v1/keys', admin.key, { role: 'agent', name: `made with ${leaked}` });
    const createdKey = (created.res.body as CreatedApiKey).key;

    const dump = await dumpAuditKeys(redis, t.prefix);
    expect(dump.length).toBeGreaterThan(1000);
    const secretPart = (k: string) => k.slice(20); // the id part of a key is not secret
    for (const secret of [secretPart(leaked), secretPart(agent.key), secretPart(createdKey), aws, 'PRIVATE KEY', pem.split('\n')[1]!]) {
      expect(dump, `found ${secret.slice(0, 12)}…`).not.toContain(secret);
    }
    // what was submitted is there as a digest only
    expect(dump).not.toContain('echo ');
  });

  describe('GET /v1/audit', () => {
    it("pages through one key's records newest first, without gaps or repeats", async () => {
      const k = await t.key('agent');
      for (let i = 0; i < 7; i += 1) await t.request('GET', `/v1/profiles?i=${i}`, k.key);
      const seen: AuditRecord[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `/v1/audit?actor=${k.id}&limit=3${cursor === null ? '' : `&cursor=${cursor}`}`;
        const res = await t.request('GET', q, admin.key);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.records.length).toBeLessThanOrEqual(3);
        seen.push(...(res.body.records as AuditRecord[]));
        cursor = res.body.nextCursor as string | null;
        pages += 1;
      } while (cursor !== null && pages < 10);
      expect(pages).toBe(3);
      expect(seen.map((r) => r.request?.params?.['query'])).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => ({ i: String(i) })));
      const seqs = seen.map((r) => r.seq);
      expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
      const asc = await t.request('GET', `/v1/audit?actor=${k.id}&order=asc&limit=100`, admin.key);
      expect((asc.body.records as AuditRecord[]).map((r) => r.seq)).toEqual([...seqs].reverse());
    });

    it('filters by action, target, anonymous actor and time', async () => {
      const id = await submit(agent);
      await t.request('GET', `/v1/jobs/${id}`, agent.key);
      await t.request('GET', `/v1/jobs/${id}`, otherAgent.key);
      const byTarget = await t.request('GET', `/v1/audit?target=${id}&order=asc`, admin.key);
      // issue 10: the other key's refused read is recorded without the job as target
      expect((byTarget.body.records as AuditRecord[]).map((r) => [r.action, r.actor.type === 'key' ? r.actor.keyId : '', r.outcome?.status])).toEqual([
        ['job.submit', agent.id, 202],
        ['job.read', agent.id, 200],
      ]);
      const reads = await t.request('GET', `/v1/audit?target=${id}&action=job.read`, admin.key);
      expect(reads.body.records).toHaveLength(1);
      const probes = await t.request('GET', `/v1/audit?actor=${otherAgent.id}&action=job.read&limit=1`, admin.key);
      expect(probes.body.records[0]).toMatchObject({ target: null, outcome: { status: 404 }, request: { params: { id } } });

      const since = new Date().toISOString();
      await t.request('GET', '/v1/profiles', undefined);
      const denied = await t.request('GET', `/v1/audit?actor=anonymous&action=auth.denied&since=${since}`, admin.key);
      expect(denied.status).toBe(200);
      expect(denied.body.records).toHaveLength(1);
      expect(denied.body.records[0]).toMatchObject({ actor: ANONYMOUS, request: { route: '/v1/profiles' } });
      const none = await t.request('GET', `/v1/audit?action=auth.denied&until=2000-01-01T00:00:00Z`, admin.key);
      expect(none.body).toEqual({ records: [], nextCursor: null });
    });

    it('is for admins; bad parameters are 400 INVALID_REQUEST (and audited)', async () => {
      for (const k of [agent, reviewer]) {
        const { res, record } = await call('GET', '/v1/audit', k.key);
        expectError(res, 403, 'FORBIDDEN');
        expect(record).toMatchObject({ action: 'auth.denied', details: { attempted: 'audit.read' } });
      }
      for (const q of ['actor=bob', 'action=job.eat', 'limit=0', 'limit=100000', 'since=yesterday', 'cursor=abc', 'color=red']) {
        const { res, record } = await call('GET', `/v1/audit?${q}`, admin.key);
        expectError(res, 400, 'INVALID_REQUEST');
        expect(record).toMatchObject({ action: 'audit.read', outcome: { status: 400, error: 'INVALID_REQUEST' } });
      }
      const ok = await call('GET', '/v1/audit?limit=1', admin.key);
      expect(ok.record).toMatchObject({ action: 'audit.read', outcome: { status: 200 } });
    });
  });

  it('GET /v1/audit/verify: ok for the live chain, admin only', async () => {
    const { res, record } = await call('GET', '/v1/audit/verify', admin.key);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, records: expect.any(Number), lastSeq: expect.any(Number) });
    expect(res.body.lastSeq).toBe(record.seq - 1); // the verify's own record comes after its snapshot
    expect(record).toMatchObject({ action: 'audit.verify', outcome: { status: 200 } });
    expectError((await call('GET', '/v1/audit/verify', agent.key)).res, 403, 'FORBIDDEN');
  });

  it("GET /v1/jobs/:id/audit: the job's records oldest first, for its submitter or an admin", async () => {
    const id = await submit(agent);
    await t.request('GET', `/v1/jobs/${id}`, agent.key);
    const own = await call('GET', `/v1/jobs/${id}/audit`, agent.key);
    expect(own.res.status).toBe(200);
    expect(own.res.body.jobId).toBe(id);
    expect((own.res.body.records as AuditRecord[]).map((r) => r.action)).toEqual(['job.submit', 'job.read']);
    expect(own.record).toMatchObject({ action: 'audit.read', target: id, request: { route: '/v1/jobs/:id/audit' } });

    const byAdmin = await t.request('GET', `/v1/jobs/${id}/audit?limit=2`, admin.key);
    expect((byAdmin.body.records as AuditRecord[]).map((r) => r.action)).toEqual(['job.submit', 'job.read']);
    expect(byAdmin.body.nextCursor).toEqual(expect.any(String));
    const rest = await t.request('GET', `/v1/jobs/${id}/audit?limit=2&cursor=${byAdmin.body.nextCursor as string}`, admin.key);
    // the owner's read and the admin's first page, both reads of this job
    expect((rest.body.records as AuditRecord[]).map((r) => [r.action, r.actor.type === 'key' ? r.actor.keyId : ''])).toEqual([
      ['audit.read', agent.id],
      ['audit.read', admin.id],
    ]);

    expectError((await call('GET', `/v1/jobs/${id}/audit`, otherAgent.key)).res, 404, 'JOB_NOT_FOUND');
    expectError((await call('GET', `/v1/jobs/${id}/audit`, reviewer.key)).res, 403, 'FORBIDDEN');
    expectError((await call('GET', '/v1/jobs/job_doesnotexist0/audit', agent.key)).res, 404, 'JOB_NOT_FOUND');
    expectError((await call('GET', '/v1/jobs/job_neverusedid0/audit', admin.key)).res, 404, 'JOB_NOT_FOUND');
    // records outlive job records: an admin still sees what was done to an id that has no job (any more)
    // (issue 10: an agent's refused request no longer names the id; an admin's, who may see any job, does)
    const probe = await t.request('GET', '/v1/jobs/job_neverusedid0/audit', admin.key);
    expect(probe.status).toBe(200);
    expect(probe.body.records).toEqual([expect.objectContaining({ action: 'audit.read', actor: actorOf(admin), outcome: { status: 404, error: 'JOB_NOT_FOUND' } })]);
    expectError((await call('GET', '/v1/jobs/job_doesnotexist0/audit', admin.key)).res, 404, 'JOB_NOT_FOUND');
    expectError((await call('GET', '/v1/jobs/nope/audit', admin.key)).res, 404, 'JOB_NOT_FOUND');
  });
});
