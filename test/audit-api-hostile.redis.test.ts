/**
 * The audit log under hostile requests (issue 10): a request naming someone else's job or
 * promotion is recorded, but not into that owner's trail; attacker text in paths and query
 * strings is bounded and its control characters escaped; an owner's view of its job's trail
 * holds its own and the system's records only; and what the router refuses before any hook
 * runs (a malformed percent-escape, an over-long path parameter) still leaves one record.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAuditStore, parseRecord, type AuditRecord } from '../src/audit/index.js';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { testRedis } from './helpers/redis.js';

type Res = Awaited<ReturnType<TestAirlock['request']>>;

const JOB = { runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] };
const ESC = '\u001b';

describe('audit: hostile requests', () => {
  let t: TestAirlock;
  let redis: Redis;
  let store: RedisAuditStore;
  let admin: CreatedApiKey;
  let owner: CreatedApiKey;
  let intruder: CreatedApiKey;
  let jobId: string;

  beforeAll(async () => {
    t = await startTestAirlock('audit-hostile', { AIRLOCK_ROLE: 'api' });
    redis = testRedis();
    store = new RedisAuditStore({ redis, prefix: t.prefix });
    [admin, owner, intruder] = [await t.key('admin'), await t.key('agent'), await t.key('agent')];
    const res = await t.request('POST', '/v1/jobs', owner.key, JOB);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    jobId = res.body.id as string;
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
    const record = parseRecord((await store.readRaw(after, 1))[0] ?? '');
    expect(record).not.toBeNull();
    return { res, record: record! };
  }
  /** A raw GET (fetch would normalise some of these paths). */
  const rawGet = (path: string, key?: string) =>
    audited(async () => {
      const r = await fetch(`${t.baseUrl}${path}`, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
      const text = await r.text();
      return { status: r.status, body: text === '' ? undefined : JSON.parse(text) };
    });
  const trailOf = async (id: string, key: string): Promise<AuditRecord[]> => {
    const res = await t.request('GET', `/v1/jobs/${id}/audit?limit=500`, key);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.records as AuditRecord[];
  };

  it("a request naming another owner's job or promotion is recorded, but not into that owner's trail", async () => {
    const fakeLine = `\n${ESC}[2K${ESC}[1A2025-01-01 job.finish succeeded by admin ${'x'.repeat(12_000)}`; // a URL under node's 16 KB header cap
    const anonymous = await rawGet(`/v1/jobs/${jobId}?note=${encodeURIComponent(fakeLine)}`);
    expect(anonymous.res.status).toBe(401);
    const other = await rawGet(`/v1/jobs/${jobId}/artifacts?note=${encodeURIComponent(fakeLine)}`, intruder.key);
    expect(other.res.status).toBe(404);
    const promotion = await rawGet('/v1/promotions/prm_AbCdEf0123456789', intruder.key);
    expect(promotion.res.status).toBe(404);
    for (const { record } of [anonymous, other, promotion]) {
      expect(record.target).toBeNull();
      // the probe is still there for an admin, with the id it named
      expect(record.request?.params?.['id']).toEqual(expect.stringMatching(/^(job|prm)_/));
    }
    const trail = await trailOf(jobId, owner.key);
    expect(trail.map((r) => (r.actor.type === 'key' ? r.actor.keyId : r.actor.type))).toEqual([owner.id]);
    const targeted = (await t.request('GET', `/v1/audit?target=${jobId}`, admin.key)).body.records as AuditRecord[];
    expect(targeted.map((r) => [r.action, r.actor.type === 'key' ? r.actor.keyId : ''])).toEqual([
      ['audit.read', owner.id],
      ['job.submit', owner.id],
    ]);
    // an admin may see every job: its reads name the job
    const byAdmin = await rawGet(`/v1/jobs/${jobId}`, admin.key);
    expect(byAdmin.record.target).toBe(jobId);
  });

  it('keeps at most a bounded, printable part of a hostile query string and path', async () => {
    const hostile = `${ESC}[31mFAKE${ESC}[0m\r\n${'\u202e'}${'q '.repeat(1_200)}`;
    const { record } = await rawGet(`/v1/jobs/${jobId}?a=${encodeURIComponent(hostile)}&b=${encodeURIComponent(hostile)}&c=1`, owner.key);
    const params = JSON.stringify(record.request?.params ?? {});
    expect(params.length).toBeLessThan(1600);
    expect(record.request?.params?.['queryBytes']).toBeGreaterThan(8_000);
    const text = JSON.stringify(record);
    for (const c of [ESC, '\r', '\n', '\u202e']) expect(text).not.toContain(c);
    expect(text).toContain('\\\\u001b[31mFAKE'); // the escape, made visible
    const longPath = `/v1/${'p'.repeat(4_000)}${encodeURIComponent(hostile)}`;
    const unknown = await rawGet(longPath, owner.key);
    expect(unknown.res.status).toBe(404);
    expect(Buffer.byteLength(unknown.record.request?.route ?? '')).toBeLessThanOrEqual(256);
  });

  it("an owner's view of its job's trail holds its own and the system's records; an admin's holds all", async () => {
    await t.request('GET', `/v1/jobs/${jobId}`, admin.key);
    // what a worker records about the job (start/finish): a system-side record
    await store.append({ actor: { type: 'worker', workerId: 'w-test' }, action: 'job.start', target: jobId });
    const own = await trailOf(jobId, owner.key);
    expect(own.map((r) => r.action)).toContain('job.start');
    for (const r of own) if (r.actor.type === 'key') expect(r.actor.keyId).toBe(owner.id);
    const all = await trailOf(jobId, admin.key);
    expect(all.some((r) => r.actor.type === 'key' && r.actor.keyId === admin.id)).toBe(true);
    expect(all.length).toBeGreaterThan(own.length);
  });

  it('a malformed percent-escape (400) and an over-long path parameter (414) each leave one record', async () => {
    const bad = await rawGet('/v1/jobs/%zz', owner.key);
    expect(bad.res.status).toBe(400);
    expect(bad.res.body).toEqual({ error: expect.objectContaining({ code: 'INVALID_REQUEST', field: 'url' }) });
    expect(bad.record).toMatchObject({
      actor: { type: 'key', keyId: owner.id },
      action: 'request',
      target: null,
      request: { method: 'GET', route: '/v1/jobs/%zz' },
      outcome: { status: 400, error: 'INVALID_REQUEST' },
    });
    const long = await rawGet(`/v1/jobs/job_${'A'.repeat(5000)}`);
    expect(long.res.status).toBe(414);
    expect(long.res.body).toEqual({ error: expect.objectContaining({ code: 'URI_TOO_LONG' }) });
    expect(long.record).toMatchObject({ actor: { keyId: 'anonymous' }, action: 'request', target: null, outcome: { status: 414, error: 'URI_TOO_LONG' } });
    expect(Buffer.byteLength(long.record.request?.route ?? '')).toBeLessThanOrEqual(256);
  });
});
