/**
 * The job and promotion stores over the Redis seam, on a redis-server of this suite's own (so
 * INFO commandstats counts only what the test sends): the job start is ONE script that also
 * returns the record and the input, the finish one more with its TTLs; every transition runs
 * with EVALSHA; every key a job's or a promotion's life writes (BullMQ's included) is under the
 * deployment's hash tag `{prefix}`; a corrupt stored record is a clear error, never a cast.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/credentials/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobProducer, JobResultSchema, type JobInput } from '../src/queue/index.js';
import { jobSnapshot, type PromotableJob } from '../src/review/index.js';
import { PromotionStore, type PromotionDoc } from '../src/review/promotion-store.js';
import { AppError, systemClock, type LuaScript } from '../src/shared/index.js';
import { CANCEL_SCRIPT, START_SCRIPT, TRANSITION_SCRIPT } from '../src/queue/job-scripts.js';
import { CLAIM_SCRIPT, CREATE_SCRIPT, DECIDE_SCRIPT, ESCALATE_SCRIPT, TRANSITION_SCRIPT as PROMOTION_TRANSITION_SCRIPT } from '../src/review/promotion-scripts.js';
import { RELEASE_LOCK_SCRIPT } from '../src/shared/redis/index.js';
import { callDelta, CommandLog, commandCalls, redisKey, startPrivateRedis, uniquePrefix, type PrivateRedis } from './helpers/redis.js';

const SHELL = loadProfiles(resolve(import.meta.dirname, '../profiles')).get('shell')!;
const INPUT: JobInput = {
  profile: 'shell',
  argv: ['sh', 'main.sh'],
  files: [
    { path: 'main.sh', content: 'echo hi', encoding: 'utf8' },
    { path: 'blob.bin', content: Buffer.from([0, 1, 2, 255]).toString('base64'), encoding: 'base64' },
  ],
  stdin: '',
  env: { A: '1' },
  limits: SHELL.profile.limits,
};
const RESULT = JobResultSchema.parse(JSON.parse(readFileSync(resolve(import.meta.dirname, 'fixtures/job-result.json'), 'utf8')));
const TTL_S = 3600;
const ACTOR = { keyId: 'key_0000000000000001', principal: 'alice', role: 'agent' };

function promotionDoc(id: string, jobId: string): PromotionDoc {
  const job: PromotableJob = { id: jobId, status: 'succeeded', profile: 'shell', submitter: { keyId: ACTOR.keyId, principal: 'alice' }, result: RESULT, input: INPUT };
  const now = new Date().toISOString();
  return {
    id,
    jobId,
    target: 'staging',
    targetType: 'directory',
    artifactDigest: RESULT.artifactDigest ?? 'none',
    artifactKind: 'artifacts',
    codeDigest: RESULT.codeDigest,
    profileDigest: RESULT.profileDigest,
    policy: { version: 'v1', digest: 'd' },
    requester: { keyId: ACTOR.keyId, principal: 'alice' },
    submitter: { keyId: ACTOR.keyId, principal: 'alice' },
    lineage: jobId,
    note: '',
    risk: 'none',
    findings: [],
    requirement: { approvals: 1, groups: ['reviewers'], requireGroup: null, basis: 'policy' },
    createdAt: now,
    deadlineAt: now,
    escalateAt: null,
    escalationGroup: null,
    snapshot: jobSnapshot(job, RESULT, null),
  };
}

describe('job and promotion scripts', () => {
  let server: PrivateRedis;
  let redis: Redis;
  const prefix = uniquePrefix('scripts');
  let keys: ApiKeyStore;
  let producer: JobProducer;
  let promotions: PromotionStore;
  let keyId: string;
  let log: CommandLog;

  beforeAll(async () => {
    server = await startPrivateRedis();
    log = await CommandLog.open(server.url);
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    keys = new ApiKeyStore(redis, prefix, systemClock);
    producer = new JobProducer({ redis, prefix, attempts: 1, retryBackoffMs: 100, finishedTtlS: TTL_S, clock: systemClock });
    promotions = new PromotionStore(redis, prefix);
    keyId = (await keys.create({ role: 'agent' })).id;
    // Redis learns the job scripts (their first call is EVALSHA, NOSCRIPT, EVAL); from then on one command each
    const warm = (await producer.submit(keyId, INPUT)).id;
    await producer.store.start(warm, 'w-0', new Date().toISOString());
    await producer.store.finish(warm, 'succeeded', { result: RESULT, finishedAt: new Date().toISOString() });
  });
  afterAll(async () => {
    log?.close();
    await producer?.close();
    redis?.disconnect();
    await server?.stop();
  });

  const store = () => producer.store;
  const now = () => new Date().toISOString();
  const submit = async () => (await producer.submit(keyId, INPUT)).id;
  /** What was sent since the last look: command and first argument (a script's sha). */
  const sent = async () => (await log.take()).map(({ command: [cmd, first] }) => [cmd, first]);

  it('starts a job in ONE script that also returns its record and its input', async () => {
    const id = await submit();
    await log.take();
    const started = await store().start(id, 'w-1', now());
    expect(await sent()).toEqual([['evalsha', START_SCRIPT.sha1]]);
    expect(started).toMatchObject({ applied: true, status: 'running', attempts: 1 });
    expect(started.record).toMatchObject({ id, status: 'running', ownerKeyId: keyId, attempts: 1, workerId: 'w-1', cancelRequested: false });
    expect(started.input).toEqual(INPUT);
    // a second start (a stalled job picked up again) counts the run again
    expect(await store().start(id, 'w-2', now())).toMatchObject({ applied: true, attempts: 2, record: { workerId: 'w-2', attempts: 2 } });
  });

  it('finishes a job in one script that also sets the TTL of its record and its input', async () => {
    const id = await submit();
    await store().start(id, 'w-1', now());
    await redis.persist(redisKey(prefix, `job:${id}:input`));
    await log.take();
    expect(await store().finish(id, 'succeeded', { result: RESULT, finishedAt: now() })).toEqual({ applied: true, status: 'succeeded' });
    expect(await sent()).toEqual([['evalsha', TRANSITION_SCRIPT.sha1]]);
    for (const key of [`job:${id}`, `job:${id}:input`]) {
      const ttl = await redis.ttl(redisKey(prefix, key));
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(TTL_S);
    }
    expect((await store().get(id))?.result).toEqual(RESULT);
    expect(await redis.smembers(redisKey(prefix, `key-jobs:${keyId}`))).not.toContain(id);
  });

  it('a start refused for a revoked key cancels the job and sets both TTLs in the same script', async () => {
    const other = await keys.create({ role: 'agent' });
    const id = (await producer.submit(other.id, INPUT)).id;
    await keys.revoke(other.id);
    await redis.persist(redisKey(prefix, `job:${id}:input`));
    await log.take();
    expect(await store().start(id, 'w-1', now())).toEqual({ applied: false, status: 'cancelled', attempts: 0, refused: 'revoked' });
    expect(await sent()).toEqual([['evalsha', START_SCRIPT.sha1]]);
    expect(await redis.ttl(redisKey(prefix, `job:${id}:input`))).toBeGreaterThan(0);
    expect(await store().get(id)).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' } });
  });

  it('runs every job and promotion transition with EVALSHA once Redis knows the script', async () => {
    const round = async (n: number) => {
      const done = await submit();
      await store().start(done, 'w-1', now());
      await store().finish(done, 'succeeded', { result: RESULT, finishedAt: now() });
      await producer.cancel(await submit());
      const retried = await submit();
      await store().start(retried, 'w-1', now());
      await store().requeue(retried, { code: 'SANDBOX_UNAVAILABLE', message: 'engine down' });
      const id = `prm_test${n}aaaaaaaaaaaa`;
      const past = Date.now() - 1000;
      await promotions.create(promotionDoc(id, done), {
        lineageKey: `l${n}`,
        initial: 'pending_review',
        createdMs: past,
        deadlineMs: Date.now() + 60_000,
        escalateMs: past,
        actor: ACTOR,
        reason: 'test',
      });
      expect(await promotions.escalate(id, Date.now(), now(), { escalated: true })).toBe(true);
      const decision = { keyId: 'key_0000000000000002', principal: 'bob', decision: 'approve' as const, reason: 'ok', artifactDigest: 'x', groups: ['reviewers'], at: now() };
      expect((await promotions.decide(id, decision, { nowMs: Date.now(), actor: { ...ACTOR, principal: 'bob' }, approvalsNeeded: 1, requireGroup: null })).outcome).toBe(
        'approved',
      );
      expect(await promotions.claim(id, 'claim-1', Date.now(), 60_000)).toBe(true);
      expect(await promotions.transition(id, ['approved'], 'promoted', { at: now(), actor: { system: 'applier' }, reason: 'applied', claim: 'claim-1' })).toEqual({
        applied: true,
        state: 'promoted',
      });
      expect(await promotions.withLock('test', 5000, () => Promise.resolve())).toBe(true);
      return id;
    };
    await redis.script('FLUSH');
    await round(1);
    const before = await commandCalls(redis);
    const id = await round(2);
    const delta = callDelta(before, await commandCalls(redis));
    expect(delta['eval']).toBeUndefined();
    // ours: 3 job starts/finish/requeue transitions, 1 cancel; 5 promotion scripts and the lock release; BullMQ's own scripts on top
    expect(delta['evalsha']).toBeGreaterThanOrEqual(12);
    const scripts: LuaScript<string, string, unknown>[] = [
      START_SCRIPT,
      TRANSITION_SCRIPT,
      CANCEL_SCRIPT,
      CREATE_SCRIPT,
      DECIDE_SCRIPT,
      PROMOTION_TRANSITION_SCRIPT,
      CLAIM_SCRIPT,
      ESCALATE_SCRIPT,
      RELEASE_LOCK_SCRIPT,
    ];
    expect(await redis.script('EXISTS', ...scripts.map((s) => s.sha1))).toEqual(scripts.map(() => 1));
    const p = await promotions.get(id);
    expect(p?.state).toBe('promoted');
    expect(p?.history.map((h) => h.to)).toEqual(['pending_review', 'pending_review', 'approved', 'promoted']);
    expect(p?.decisions.map((d) => d.principal)).toEqual(['bob']);
  });

  it('keeps every key of a job and a promotion (BullMQ included) under the hash tag {prefix}', async () => {
    const all: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      all.push(...found);
    } while (cursor !== '0');
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((k) => !k.startsWith(`{${prefix}}:`))).toEqual([]);
    for (const family of ['job:', 'key-jobs:', 'key-usage:', 'apikey:', 'apikeys', 'jobs:', 'promo:', 'promos:'])
      expect(
        all.some((k) => k.startsWith(`{${prefix}}:${family}`)),
        family,
      ).toBe(true);
  });

  it('a corrupt stored record is a clear INTERNAL error naming it, never a cast', async () => {
    const corrupt = async (p: Promise<unknown>, pattern: RegExp) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'INTERNAL' });
      expect((err as Error).message).toMatch(pattern);
    };
    const id = await submit();
    await redis.hset(redisKey(prefix, `job:${id}`), 'status', 'exploded');
    await corrupt(store().get(id), new RegExp(`stored job record ${id} is corrupt: status`));

    const finished = await submit();
    await store().finish(finished, 'succeeded', { result: RESULT, finishedAt: now() });
    await redis.hset(redisKey(prefix, `job:${finished}`), 'result', JSON.stringify({ ...RESULT, exitCode: 'zero' }));
    await corrupt(store().get(finished), /is corrupt: result\.exitCode/);

    const other = await submit();
    await redis.set(redisKey(prefix, `job:${other}:input`), Buffer.concat([Buffer.from('AJI1'), Buffer.from('not gzip')]));
    await corrupt(store().getInput(other), new RegExp(`stored input of job ${other} is corrupt: not gzip`));
    await corrupt(store().start(other, 'w-1', now()), new RegExp(`stored input of job ${other} is corrupt`));
    await redis.set(redisKey(prefix, `job:${other}:input`), JSON.stringify({ ...INPUT, argv: 'sh' }));
    await corrupt(store().getInput(other), /is corrupt: argv/);

    const key = await keys.create({ role: 'agent' });
    await redis.hset(redisKey(prefix, `apikey:${key.id}`), 'role', 'root');
    await corrupt(keys.get(key.id), new RegExp(`stored API key ${key.id} is corrupt: role`));

    const promotion = `prm_corrupt${Date.now()}`;
    await promotions.create(promotionDoc(promotion, finished), {
      lineageKey: 'corrupt',
      initial: 'pending_review',
      createdMs: Date.now(),
      deadlineMs: Date.now() + 60_000,
      escalateMs: null,
      actor: ACTOR,
      reason: 'test',
    });
    await redis.hset(redisKey(prefix, `promo:${promotion}`), 'doc', JSON.stringify({ ...promotionDoc(promotion, finished), risk: 'extreme' }));
    await corrupt(promotions.get(promotion), new RegExp(`stored promotion ${promotion} doc is corrupt: risk`));
  });
});
