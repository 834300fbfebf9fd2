import { readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpointer, GENESIS_HASH, RedisAuditStore, loadOrCreateSigningKey, publicKeyPem, queryAudit, verifyKeyFromPem, type AuditRecord } from '../src/audit/index.js';
import { AppError, canonicalJson } from '../src/shared/index.js';
import { auditHarness, jobEvent, type AuditHarness } from './fixtures/audit/harness.js';
import { dumpKeys } from './helpers/redis.js';

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  return err as AppError;
}

describe('RedisAuditStore', () => {
  let h: AuditHarness;
  beforeAll(async () => {
    h = await auditHarness('audit-store');
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('appends linked records, stores them as canonical JSON and moves the head', async () => {
    const [a, b] = await h.appendMany(2);
    expect(a).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
    expect(b).toMatchObject({ seq: 2, prevHash: a!.hash });
    expect(await h.redis.hget(`{${h.prefix}}:audit:records`, '2')).toBe(canonicalJson(b));
    expect(await h.store.head()).toEqual({ seq: 2, hash: b!.hash, time: b!.time });
    expect(await h.store.recordCount()).toBe(2);
  });

  it('indexes by actor, action, target and time', async () => {
    const r = await h.store.append({ actor: { type: 'key', keyId: 'key_idx', role: 'admin' }, action: 'key.revoke', target: 'key_victim' });
    const seq = String(r.seq);
    expect(await h.redis.zscore(`{${h.prefix}}:audit:idx:actor:key:key_idx`, seq)).toBe(seq);
    expect(await h.redis.zscore(`{${h.prefix}}:audit:idx:action:key.revoke`, seq)).toBe(seq);
    expect(await h.redis.zscore(`{${h.prefix}}:audit:idx:target:key_victim`, seq)).toBe(seq);
    expect(Number(await h.redis.zscore(`{${h.prefix}}:audit:idx:time`, seq))).toBe(Date.parse(r.time));
  });

  it('never lets time go backwards, even when the clock does', async () => {
    const before = (await h.appendMany(1))[0]!;
    h.clock.advance(-3_600_000);
    const after = await h.store.append(jobEvent(1));
    expect(after.time).toBe(before.time);
    h.clock.advance(3_600_000);
  });

  it('serializes concurrent appends from one process into one chain', async () => {
    const start = (await h.store.head()).seq;
    const records = await Promise.all(Array.from({ length: 60 }, (_, i) => h.store.append(jobEvent(i))));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 60 }, (_, i) => start + i + 1));
  });

  it('keeps one chain when two store instances race', async () => {
    const other = new RedisAuditStore({ redis: h.redis, prefix: h.prefix, clock: h.clock });
    const start = (await h.store.head()).seq;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? h.store : other).append(jobEvent(i))));
    const seqs = results.map((r) => r.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => start + i + 1));
    await h.checkpointer.checkpointNow();
    expect(await h.verify()).toMatchObject({ ok: true });
  });

  it('never stores API-key-looking strings from params, env, stdin, details or errors', async () => {
    const secrets = ['ak_key_Zq81xQ_SECRETpart9f8e7d6c5b4a3928', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'hunter2-db-pass', 'q8Zr3VxW1pLk9TnB4mYc7HsJ2dFg6QaE'];
    await h.store.append({
      actor: { type: 'key', keyId: 'key_redact', role: 'submitter' },
      action: 'job.submit',
      target: 'job_redact',
      request: {
        method: 'POST',
        route: '/v1/jobs',
        ip: '127.0.0.1',
        params: {
          profile: 'python',
          env: { AIRLOCK_KEY: secrets[0], GH: `token ${secrets[1]}`, DB_PASSWORD: secrets[2], RANDOM_SEED: secrets[3] },
          stdin: `echo ${secrets[0]} | login\nDATABASE_URL=postgres://u:${secrets[2]}@db/x`,
          headers: { authorization: `Bearer ${secrets[0]}` },
        },
        codeDigest: `sha256:${'ab'.repeat(32)}`,
      },
      outcome: { status: 400, error: `bad key ${secrets[0]}` },
      details: { note: `retry with ${secrets[1]}` },
    });
    const dump = await dumpKeys(h.redis, `{${h.prefix}}:*`);
    for (const secret of secrets) expect(dump).not.toContain(secret);
    expect(dump).not.toContain('SECRETpart');
    expect(dump).toContain(`sha256:${'ab'.repeat(32)}`);
  });

  it('refuses to overwrite records when the head was rewound', async () => {
    const head = await h.store.head();
    const fresh = new RedisAuditStore({ redis: h.redis, prefix: h.prefix, clock: h.clock });
    const prevRaw = await h.redis.hget(`{${h.prefix}}:audit:records`, String(head.seq - 1));
    const prev = JSON.parse(prevRaw!) as AuditRecord;
    await h.redis.set(`{${h.prefix}}:audit:head`, canonicalJson({ seq: prev.seq, hash: prev.hash, time: prev.time }));
    await expectAppError(fresh.append(jobEvent(1)), 'AUDIT_UNAVAILABLE');
    expect(await h.redis.hget(`{${h.prefix}}:audit:records`, String(head.seq))).not.toBeNull();
    await h.redis.set(`{${h.prefix}}:audit:head`, canonicalJson(head));
  });
});

describe('RedisAuditStore with Redis unreachable', () => {
  it('throws a retryable AUDIT_UNAVAILABLE', async () => {
    const redis = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    try {
      const store = new RedisAuditStore({ redis, prefix: 'unreachable' });
      const err = await expectAppError(store.append(jobEvent(1)), 'AUDIT_UNAVAILABLE');
      expect(err.retryable).toBe(true);
      await expectAppError(store.head(), 'AUDIT_UNAVAILABLE');
    } finally {
      redis.disconnect();
    }
  });
});

describe('queryAudit', () => {
  let h: AuditHarness;
  let all: AuditRecord[];
  beforeAll(async () => {
    h = await auditHarness('audit-query');
    all = await h.appendMany(30); // keyId key_(i%3), action job.submit/job.read alternating, target job_(i%5)
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('pages newest first by default with an opaque cursor', async () => {
    const p1 = await queryAudit(h.store, { limit: 12 });
    expect(p1.records.map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => 30 - i));
    const p2 = await queryAudit(h.store, { limit: 12, cursor: p1.nextCursor! });
    const p3 = await queryAudit(h.store, { limit: 12, cursor: p2.nextCursor! });
    expect(p3.records.map((r) => r.seq)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(p3.nextCursor).toBeNull();
  });

  it('filters by actor, action and target together, in ascending order', async () => {
    const expected = all.filter((r) => r.actor.type === 'key' && r.actor.keyId === 'key_1' && r.action === 'job.submit' && r.target === 'job_4');
    expect(expected.length).toBeGreaterThan(0);
    const page = await queryAudit(h.store, { actor: { type: 'key', keyId: 'key_1' }, action: 'job.submit', target: 'job_4', order: 'asc' });
    expect(page.records).toEqual(expected);
  });

  it('pages through a filter without gaps or repeats', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await queryAudit(h.store, { action: 'job.read', limit: 4, order: 'asc', ...(cursor ? { cursor } : {}) });
      seen.push(...page.records.map((r) => r.seq));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.filter((r) => r.action === 'job.read').map((r) => r.seq));
  });

  it('filters by time: since inclusive, until exclusive', async () => {
    const page = await queryAudit(h.store, { since: all[9]!.time, until: new Date(all[14]!.time), order: 'asc' });
    expect(page.records.map((r) => r.seq)).toEqual([10, 11, 12, 13, 14]);
  });

  it('rejects a limit over 500 and a forged cursor with INVALID_REQUEST', async () => {
    await expectAppError(queryAudit(h.store, { limit: 501 }), 'INVALID_REQUEST');
    await expectAppError(queryAudit(h.store, { cursor: 'not-a-cursor' }), 'INVALID_REQUEST');
    const asc = await queryAudit(h.store, { limit: 1, order: 'asc' });
    await expectAppError(queryAudit(h.store, { cursor: asc.nextCursor!, order: 'desc' }), 'INVALID_REQUEST');
  });
});

describe('signing key and checkpointer', () => {
  let h: AuditHarness;
  beforeAll(async () => {
    h = await auditHarness('audit-checkpointer');
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('creates a 0600 PKCS8 key once and reloads the same one', async () => {
    const path = join(h.dir, 'keys', 'signing-key.pem');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toContain('BEGIN PRIVATE KEY');
    const again = await loadOrCreateSigningKey(path);
    expect(again.keyId).toBe(h.key.keyId);
    expect(verifyKeyFromPem(publicKeyPem(h.key)).keyId).toBe(h.key.keyId);
    const loose = join(h.dir, 'loose.pem');
    await writeFile(loose, await readFile(path, 'utf8'));
    await chmod(loose, 0o644);
    await expectAppError(loadOrCreateSigningKey(loose), 'CONFIG_INVALID');
  });

  it('checkpoints every N records or after T, and not when nothing is new', async () => {
    expect(await h.checkpointer.maybeCheckpoint()).toBeNull(); // empty chain
    await h.appendMany(9);
    expect(await h.checkpointer.maybeCheckpoint()).toBeNull();
    await h.appendMany(1);
    expect(await h.checkpointer.maybeCheckpoint()).toMatchObject({ seq: 10, keyId: h.key.keyId });
    expect(await h.checkpointer.maybeCheckpoint()).toBeNull();
    await h.appendMany(2);
    expect(await h.checkpointer.maybeCheckpoint()).toBeNull();
    h.clock.advance(60_000);
    const byTime = await h.checkpointer.maybeCheckpoint();
    expect(byTime).toMatchObject({ seq: 12, headHash: (await h.store.head()).hash });
    expect(await h.store.lastCheckpoint()).toEqual(byTime);
    const lines = (await readFile(h.sink.path, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([10, 12]);
  });

  it('runs on a timer between start() and stop()', async () => {
    const cp = new Checkpointer({ store: h.store, key: h.key, sink: h.sink, clock: h.clock, everyRecords: 1, everyMs: 60_000, pollMs: 10 });
    await h.appendMany(1);
    cp.start();
    const target = (await h.store.head()).seq;
    for (let i = 0; i < 200 && (await h.store.lastCheckpoint())?.seq !== target; i += 1) await new Promise((r) => setTimeout(r, 10));
    await cp.stop();
    expect((await h.store.lastCheckpoint())?.seq).toBe(target);
  });
});
