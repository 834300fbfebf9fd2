/**
 * Authentication and authorisation over the live HTTP API (API role only: no worker, so a
 * submitted job stays `queued`). Every refusal is asserted by status + stable code + envelope.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApiKey, Role } from '../src/credentials/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { testRedis } from './helpers/redis.js';

const JOB = { runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] };

/** Same shape as the fixture's responses: a status and the parsed JSON body. */
type Res = Awaited<ReturnType<TestAirlock['request']>>;

function expectError(res: Res, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(res.body.error.message.length).toBeGreaterThan(0);
}

/** A request with an arbitrary (possibly malformed) Authorization header. */
async function withAuthHeader(t: TestAirlock, path: string, authorization: string): Promise<Res> {
  const res = await fetch(`${t.baseUrl}${path}`, { headers: { authorization } });
  return { status: res.status, body: JSON.parse(await res.text()) };
}

const randomKeyId = () => randomBytes(8).toString('hex');
const randomSecret = () => randomBytes(32).toString('base64url');

describe('API authentication and roles', () => {
  let t: TestAirlock;
  let redis: Redis;
  let admin: CreatedApiKey;
  let agent: CreatedApiKey;
  let otherAgent: CreatedApiKey;

  beforeAll(async () => {
    t = await startTestAirlock('api-auth', { AIRLOCK_ROLE: 'api' });
    redis = testRedis();
    admin = await t.key('admin');
    agent = await t.key('agent');
    otherAgent = await t.key('agent');
  });
  afterAll(async () => {
    redis?.disconnect();
    await t?.stop();
  });

  const submit = async (key: string): Promise<string> => {
    const res = await t.request('POST', '/v1/jobs', key, JOB);
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  describe('401 UNAUTHORIZED', () => {
    it('refuses a request with no Authorization header', async () => {
      expectError(await t.request('GET', '/v1/profiles', undefined), 401, 'UNAUTHORIZED');
      expectError(await t.request('POST', '/v1/jobs', undefined, JOB), 401, 'UNAUTHORIZED');
    });

    it.each(['Basic x', 'Bearer', 'Bearer a b', 'Token abc', 'Bearer  ak_x'])('refuses the malformed header %j', async (header) => {
      expectError(await withAuthHeader(t, '/v1/profiles', header), 401, 'UNAUTHORIZED');
    });

    it('refuses a valid key sent with another scheme or with extra text', async () => {
      expectError(await withAuthHeader(t, '/v1/profiles', `Basic ${agent.key}`), 401, 'UNAUTHORIZED');
      expectError(await withAuthHeader(t, '/v1/profiles', `Bearer ${agent.key} x`), 401, 'UNAUTHORIZED');
      expectError(await withAuthHeader(t, '/v1/profiles', `Bearer ${agent.key}x`), 401, 'UNAUTHORIZED');
    });

    it('refuses a well-formed key that does not exist', async () => {
      const unknown = `ak_${randomKeyId()}_${randomSecret()}`;
      expect(unknown).toMatch(/^ak_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expectError(await t.request('GET', '/v1/profiles', unknown), 401, 'UNAUTHORIZED');
    });

    it('refuses an existing key id with the wrong secret', async () => {
      const idHex = agent.id.slice('key_'.length);
      const forged = `ak_${idHex}_${randomSecret()}`;
      expect(forged).not.toBe(agent.key);
      expectError(await t.request('GET', '/v1/profiles', forged), 401, 'UNAUTHORIZED');
      // the real key still works: the refusal was about the secret
      expect((await t.request('GET', '/v1/profiles', agent.key)).status).toBe(200);
    });

    it('refuses a key revoked through DELETE /v1/keys/:id', async () => {
      const k = await t.key('agent');
      expect((await t.request('GET', '/v1/profiles', k.key)).status).toBe(200);
      const del = await t.request('DELETE', `/v1/keys/${k.id}`, admin.key);
      expect(del.status).toBe(200);
      expect(del.body).toMatchObject({ id: k.id, revokedAt: expect.any(String) });
      expectError(await t.request('GET', '/v1/profiles', k.key), 401, 'UNAUTHORIZED');
      expectError(await t.request('POST', '/v1/jobs', k.key, JOB), 401, 'UNAUTHORIZED');
    });

    it('refuses a key revoked through the store', async () => {
      const k = await t.key('agent');
      expect((await t.request('GET', '/v1/profiles', k.key)).status).toBe(200);
      await t.airlock.keys.revoke(k.id);
      expectError(await t.request('GET', '/v1/profiles', k.key), 401, 'UNAUTHORIZED');
    });

    it('DELETE /v1/keys/:id cancels the key’s queued jobs (issue 10): they never run, and the answer lists them', async () => {
      const k = await t.key('agent');
      const jobs = [await submit(k.key), await submit(k.key)];
      const bystander = await submit(agent.key);
      const del = await t.request('DELETE', `/v1/keys/${k.id}`, admin.key);
      expect(del.status).toBe(200);
      for (const id of jobs) {
        const job = await t.request('GET', `/v1/jobs/${id}`, admin.key);
        expect(job.body).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' } });
        const cancels = (await t.request('GET', `/v1/audit?action=job.cancel&target=${id}`, admin.key)).body.records;
        expect(cancels).toMatchObject([{ actor: { type: 'key', keyId: admin.id }, details: { reason: 'key revoked', keyId: k.id, killRunning: false } }]);
      }
      expect(del.body).toMatchObject({ id: k.id, revokedAt: expect.any(String), jobs: { killing: [], running: [] } });
      expect([...del.body.jobs.cancelled].sort()).toEqual([...jobs].sort());
      const revoke = (await t.request('GET', `/v1/audit?action=key.revoke&target=${k.id}`, admin.key)).body.records;
      expect(revoke).toMatchObject([{ details: { killRunning: false, cancelled: 2, killing: 0, running: 0 } }]);
      expect((await t.request('GET', `/v1/jobs/${bystander}`, agent.key)).body).toMatchObject({ status: 'queued' });
      expectError(await t.request('DELETE', `/v1/keys/${k.id}?killRunning=maybe`, admin.key), 400, 'INVALID_REQUEST');
      expect((await t.request('DELETE', `/v1/keys/${k.id}?killRunning=true`, admin.key)).body).toMatchObject({ jobs: { cancelled: [], killing: [], running: [] } });
    });

    it('answers 404 KEY_NOT_FOUND when revoking a key that does not exist', async () => {
      expectError(await t.request('DELETE', `/v1/keys/key_${randomKeyId()}`, admin.key), 404, 'KEY_NOT_FOUND');
      expectError(await t.request('DELETE', '/v1/keys/not-a-key', admin.key), 404, 'KEY_NOT_FOUND');
    });
  });

  describe('roles', () => {
    it.each<Role>(['reviewer', 'service'])('a %s key cannot submit a job (403 FORBIDDEN, nothing queued)', async (role) => {
      const k = await t.key(role);
      const before = await redis.llen(`{${t.prefix}}:jobs:wait`);
      expectError(await t.request('POST', '/v1/jobs', k.key, JOB), 403, 'FORBIDDEN');
      expect(await redis.llen(`{${t.prefix}}:jobs:wait`)).toBe(before);
    });

    it.each<Role>(['agent', 'reviewer', 'service'])('a %s key cannot manage keys (403 FORBIDDEN)', async (role) => {
      const k = await t.key(role);
      expectError(await t.request('POST', '/v1/keys', k.key, { role: 'admin' }), 403, 'FORBIDDEN');
      expectError(await t.request('GET', '/v1/keys', k.key), 403, 'FORBIDDEN');
      expectError(await t.request('DELETE', `/v1/keys/${admin.id}`, k.key), 403, 'FORBIDDEN');
      // the admin key was not revoked by the refused call
      expect((await t.request('GET', '/v1/keys', admin.key)).status).toBe(200);
    });

    it('/healthz and /readyz need no key', async () => {
      const health = await t.request('GET', '/healthz', undefined);
      expect(health).toEqual({ status: 200, body: { status: 'ok' } });
      const ready = await t.request('GET', '/readyz', undefined);
      // API-only: no worker reports a Docker engine, so not ready, but never a 401
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'not_ready', redis: true, docker: false });
    });
  });

  describe('job ownership', () => {
    it("another agent's job is 404 JOB_NOT_FOUND on GET and DELETE (not 403), and stays queued", async () => {
      const id = await submit(agent.key);
      expectError(await t.request('GET', `/v1/jobs/${id}`, otherAgent.key), 404, 'JOB_NOT_FOUND');
      expectError(await t.request('DELETE', `/v1/jobs/${id}`, otherAgent.key), 404, 'JOB_NOT_FOUND');
      const own = await t.request('GET', `/v1/jobs/${id}`, agent.key);
      expect(own.status).toBe(200);
      expect(own.body).toMatchObject({ id, status: 'queued', cancelRequested: false });
    });

    it('the 404 for a foreign job is the same as for a job that does not exist', async () => {
      const id = await submit(agent.key);
      const foreign = await t.request('GET', `/v1/jobs/${id}`, otherAgent.key);
      const missing = await t.request('GET', `/v1/jobs/job_${randomBytes(12).toString('base64url')}`, otherAgent.key);
      expect(foreign).toEqual(missing);
      expectError(await t.request('GET', '/v1/jobs/not-a-job-id', agent.key), 404, 'JOB_NOT_FOUND');
    });

    it('an admin can read and cancel any job', async () => {
      const id = await submit(agent.key);
      const read = await t.request('GET', `/v1/jobs/${id}`, admin.key);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id, status: 'queued', statusUrl: `/v1/jobs/${id}` });
      const cancel = await t.request('DELETE', `/v1/jobs/${id}`, admin.key);
      expect(cancel.status).toBe(200);
      expect(cancel.body).toMatchObject({ id, status: 'cancelled' });
    });

    it('a reviewer key cannot read jobs (403 FORBIDDEN)', async () => {
      const id = await submit(agent.key);
      const reviewer = await t.key('reviewer');
      expectError(await t.request('GET', `/v1/jobs/${id}`, reviewer.key), 403, 'FORBIDDEN');
    });
  });

  describe('/v1/keys', () => {
    it('POST returns the key once; it works; GET never shows a secret or a hash', async () => {
      const created = await t.request('POST', '/v1/keys', admin.key, { role: 'agent', name: 'ci-bot', owner: 'team-a' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ role: 'agent', name: 'ci-bot', owner: 'team-a', id: expect.stringMatching(/^key_[0-9a-f]{16}$/) });
      const key = created.body.key as string;
      expect(key).toMatch(/^ak_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expect(key.slice(3, 19)).toBe((created.body.id as string).slice(4));
      expect((await t.request('GET', '/v1/profiles', key)).status).toBe(200);

      const secret = key.slice(20);
      const hashHex = createHash('sha256').update(secret).digest('hex');
      const list = await t.request('GET', '/v1/keys', admin.key);
      expect(list.status).toBe(200);
      const text = JSON.stringify(list.body);
      expect(text).toContain(created.body.id);
      expect(text).not.toContain(key);
      expect(text).not.toContain(secret);
      expect(text).not.toContain(hashHex);
      expect(text).not.toContain(admin.key.slice(20));
      for (const entry of list.body.keys as Record<string, unknown>[]) {
        expect(entry).not.toHaveProperty('key');
        expect(entry).not.toHaveProperty('hash');
      }
    });

    it('the stored Redis hash holds the sha256 of the secret, never the secret', async () => {
      const created = await t.request('POST', '/v1/keys', admin.key, { role: 'agent' });
      const key = created.body.key as string;
      const secret = key.slice(20);
      const stored = await redis.hgetall(`{${t.prefix}}:apikey:${created.body.id as string}`);
      expect(stored['hash']).toBe(createHash('sha256').update(secret).digest('hex'));
      const all = Object.entries(stored).flat().join('\n');
      expect(all).not.toContain(secret);
      expect(all).not.toContain(key);
    });

    it.each([
      ['an unknown role', { role: 'root' }],
      ['an unknown field', { role: 'agent', scopes: ['*'] }],
      ['a bad owner', { role: 'agent', owner: 'has space' }],
    ])('POST refuses %s with 400 INVALID_REQUEST', async (_name, body) => {
      expectError(await t.request('POST', '/v1/keys', admin.key, body), 400, 'INVALID_REQUEST');
    });
  });
});
