/**
 * Issue 11: a mutation made on the command line or at start-up is recorded by the same service
 * as over HTTP. Each one leaves exactly one record of its own, with the actor
 * `{type: 'system', via: 'cli'}` (or `via: 'startup'` for the first admin key); before, `keys
 * create`, `credentials rotate` and the bootstrap key left none. And it fails closed: a key whose
 * record cannot be written is not created.
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointFileSink, Checkpointer, RedisAuditStore, loadOrCreateSigningKey, parseRecord, type AuditRecord } from '../src/audit/index.js';
import { run } from '../src/cli/index.js';
import { ApiKeyStore } from '../src/credentials/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobProducer } from '../src/queue/index.js';
import { openAirlock } from '../src/root/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { testConfig } from './helpers/airlock.js';
import { auditFiles } from './helpers/audit.js';
import { FakeClock } from './helpers/fake-clock.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';

const CLI = { type: 'system', via: 'cli' };
const DAY_MS = 24 * 3600 * 1000;

describe('command-line and start-up mutations are recorded', () => {
  const prefix = uniquePrefix('cli-records');
  let dir: string;
  let env: Record<string, string>;
  let redis: Redis;
  let store: RedisAuditStore;

  async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(argv, { out: (s) => out.push(...s.split('\n')), err: (s) => err.push(s), env });
    return { code, out, err: err.join('\n') };
  }

  /** Runs `fn` and returns the records it appended (checked by the chain head, before and after). */
  async function appended(fn: () => Promise<unknown>): Promise<AuditRecord[]> {
    const before = (await store.head()).seq;
    await fn();
    const after = (await store.head()).seq;
    return (await store.readRaw(before + 1, after - before)).map((raw) => parseRecord(raw ?? '')!);
  }

  beforeAll(async () => {
    const files = await auditFiles();
    dir = files.dir;
    env = { AIRLOCK_REDIS_URL: TEST_REDIS_URL, AIRLOCK_REDIS_PREFIX: prefix, AIRLOCK_JOB_TOKEN_KEY_DIR: `${dir}/job-keys`, AIRLOCK_AUDIT_RETENTION_DAYS: '90', ...files.env };
    redis = testRedis();
    store = new RedisAuditStore({ redis, prefix, clock: systemClock });
    // the chain starts with a record old enough for retention, signed by a checkpoint of the deployment's key
    const old = new RedisAuditStore({ redis, prefix, clock: new FakeClock(Date.now() - 200 * DAY_MS) });
    await old.append({ actor: { type: 'system' }, action: 'request', target: null });
    const key = await loadOrCreateSigningKey(env['AIRLOCK_AUDIT_SIGNING_KEY_FILE']!);
    const sink = new CheckpointFileSink(env['AIRLOCK_AUDIT_CHECKPOINT_FILE']!);
    await new Checkpointer({ store: old, key, sink, clock: systemClock, everyRecords: 1000, everyMs: 60_000 }).checkpointNow();
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  it('keys create: one key.create record naming the new key (never its secret)', async () => {
    let created = { code: -1, out: [] as string[], err: '' };
    const records = await appended(async () => (created = await cli('keys', 'create', '--role', 'agent', '--name', 'ci-bot', '--owner', 'team-a')));
    expect(created.code, created.err).toBe(0);
    const id = /^created (key_[0-9a-f]{16}) /.exec(created.out[0] ?? '')?.[1];
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      actor: CLI,
      action: 'key.create',
      target: id,
      request: { method: 'CLI', route: 'airlock keys create' },
      details: { role: 'agent', name: 'ci-bot', owner: 'team-a' },
    });
    expect(records[0]!.actor).toEqual(CLI);
    expect(JSON.stringify(records[0])).not.toContain((created.out.at(-1) ?? '').slice(20));
  });

  it('keys revoke: one key.revoke record, and one job.cancel per queued job it cancels, all by the command line', async () => {
    const key = await new ApiKeyStore(redis, prefix, systemClock).create({ role: 'agent' });
    const producer = new JobProducer({ redis, prefix, attempts: 1, retryBackoffMs: 100, finishedTtlS: 600, clock: systemClock });
    const shell = loadProfiles(resolve(import.meta.dirname, '../profiles')).get('shell')!;
    const job = await producer.submit(key.id, { profile: 'shell', argv: ['true'], files: [], stdin: '', env: {}, limits: shell.profile.limits }).finally(() => producer.close());
    let res = { code: -1, out: [] as string[], err: '' };
    const records = await appended(async () => (res = await cli('keys', 'revoke', key.id)));
    expect(res.code, res.err).toBe(0);
    expect(records.filter((r) => r.action === 'key.revoke')).toMatchObject([
      { actor: CLI, target: key.id, request: { method: 'CLI', route: 'airlock keys revoke' }, details: { killRunning: false, cancelled: 1 } },
    ]);
    expect(records.filter((r) => r.action === 'job.cancel')).toMatchObject([{ actor: CLI, target: job.id, outcome: { result: 'cancelled' } }]);
    expect(records).toHaveLength(2);
  });

  it('credentials rotate: one credential.rotate record, saying until when the retired key stays published', async () => {
    let res = { code: -1, out: [] as string[], err: '' };
    const records = await appended(async () => (res = await cli('credentials', 'rotate')));
    expect(res.code, res.err).toBe(0);
    const until = / stays published until (\S+)$/.exec(res.out[0] ?? '')?.[1];
    expect(until).toMatch(/^\d{4}-/);
    expect(records).toMatchObject([
      { actor: CLI, action: 'credential.rotate', target: null, request: { method: 'CLI', route: 'airlock credentials rotate' }, details: { retiredPublishedUntil: until } },
    ]);
  });

  it('audit trim: one audit.trim record for the segment it wrote', async () => {
    let res = { code: -1, out: [] as string[], err: '' };
    const records = await appended(async () => (res = await cli('audit', 'trim')));
    expect(res.code, res.err).toBe(0);
    expect(res.out.join('\n')).toMatch(/^wrote .*segments.*records 1\.\.1,/);
    expect(records).toMatchObject([{ actor: CLI, action: 'audit.trim', target: null, details: { firstSeq: 1, lastSeq: 1 } }]);
  });

  it('fails closed: a key whose record cannot be written is not created (exit 1, AUDIT_UNAVAILABLE)', async () => {
    const records = `{${prefix}}:audit:records`;
    const saved = await redis.hgetall(records);
    await redis.del(records);
    await redis.set(records, 'not a hash'); // the audit Redis answers, but appends fail
    try {
      const before = await redis.zcard(`{${prefix}}:apikeys`);
      const res = await cli('keys', 'create', '--role', 'admin');
      expect(res.code).toBe(1);
      expect(res.err).toContain('AUDIT_UNAVAILABLE');
      expect(res.out).toEqual([]);
      expect(await redis.zcard(`{${prefix}}:apikeys`)).toBe(before);
    } finally {
      await redis.del(records);
      if (Object.keys(saved).length > 0) await redis.hset(records, saved);
    }
  });

  it('the first admin key, made at start-up: one key.create record by the process itself, and none at the next start', async () => {
    const fresh = uniquePrefix('bootstrap');
    const files = await auditFiles(); // a chain of its own: its own checkpoints
    const config = testConfig(fresh, { AIRLOCK_ROLE: 'api', AIRLOCK_BOOTSTRAP_ADMIN: 'true', ...files.env });
    const freshStore = new RedisAuditStore({ redis, prefix: fresh, clock: systemClock });
    try {
      const first = await openAirlock(config, { logger: createLogger({ level: 'silent' }) });
      const key = first.bootstrapKey;
      await first.close();
      expect(key?.role).toBe('admin');
      const creates = (await freshStore.readRaw(1, (await freshStore.head()).seq)).map((raw) => parseRecord(raw ?? '')!).filter((r) => r.action === 'key.create');
      expect(creates).toHaveLength(1);
      expect(creates[0]).toMatchObject({ target: key!.id, details: { role: 'admin', bootstrap: true } });
      expect(creates[0]!.actor).toEqual({ type: 'system', via: 'startup' });

      const second = await openAirlock(config, { logger: createLogger({ level: 'silent' }) });
      expect(second.bootstrapKey).toBeUndefined();
      await second.close();
      const again = (await freshStore.readRaw(1, (await freshStore.head()).seq)).map((raw) => parseRecord(raw ?? '')!).filter((r) => r.action === 'key.create');
      expect(again).toHaveLength(1);
    } finally {
      await deletePrefix(redis, fresh);
      await rm(files.dir, { recursive: true, force: true });
    }
  });
});
