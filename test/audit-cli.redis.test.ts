/**
 * `airlock audit …` against the real Redis, configured through AIRLOCK_* like an operator
 * would (unique prefix, audit files in a temp dir) — variables handed to the CLI, never the test
 * process's environment. The chain is built through the real store, checkpointer and signing
 * key; tampering is done in Redis directly.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointFileSink, Checkpointer, RedisAuditStore, loadOrCreateSigningKey, parseRecord, publicKeyPem, type AuditEvent } from '../src/audit/index.js';
import { run } from '../src/cli/index.js';
import { auditFiles } from './helpers/audit.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';

const DAY_MS = 24 * 3600 * 1000;

/** The variables the CLI runs with (set in beforeAll). */
let env: Record<string, string> = {};

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (s) => out.push(...s.split('\n')), err: (s) => err.push(...s.split('\n')), env });
  return { code, out, err };
}

const event = (i: number): AuditEvent => ({
  actor: { type: 'key', keyId: 'key_00000000000000aa', role: 'agent' },
  action: 'job.read',
  target: `job_cli000000${i}`,
});

describe('airlock audit (CLI)', () => {
  const prefix = uniquePrefix('audit-cli');
  let dir: string;
  let redis: Redis;
  let store: RedisAuditStore;
  /** A controllable clock for the records this suite writes (the CLI itself runs on real time). */
  let nowMs = Date.now() - 200 * DAY_MS;
  const clock = { now: () => nowMs, sleep: () => Promise.resolve() };

  beforeAll(async () => {
    const files = await auditFiles();
    dir = files.dir;
    env = { AIRLOCK_REDIS_URL: TEST_REDIS_URL, AIRLOCK_REDIS_PREFIX: prefix, AIRLOCK_AUDIT_RETENTION_DAYS: '90', ...files.env };
    redis = testRedis();
    store = new RedisAuditStore({ redis, prefix, clock });
    const key = await loadOrCreateSigningKey(env['AIRLOCK_AUDIT_SIGNING_KEY_FILE']!);
    const checkpointer = new Checkpointer({
      store,
      key,
      sink: new CheckpointFileSink(env['AIRLOCK_AUDIT_CHECKPOINT_FILE']!),
      clock,
      everyRecords: 5,
      everyMs: 60_000,
    });
    // 10 records 200 days ago (retention material), then 10 from a minute ago, checkpointed
    for (let i = 0; i < 10; i += 1) {
      nowMs += 1000;
      await store.append(event(i));
    }
    await checkpointer.checkpointNow();
    nowMs = Date.now() - 60_000;
    for (let i = 10; i < 20; i += 1) {
      nowMs += 1000;
      await store.append(event(i));
    }
    await checkpointer.checkpointNow();
  });
  afterAll(async () => {
    if (redis !== undefined) {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('help lists the audit commands; a bad subcommand exits 1 with usage', async () => {
    const help = (await cli('help')).out.join('\n');
    for (const c of ['audit verify', 'audit pubkey', 'audit export', 'audit trim']) expect(help).toContain(c);
    const bad = await cli('audit', 'frobnicate');
    expect(bad.code).toBe(1);
    expect(bad.err.join('\n')).toContain('usage: airlock audit');
  });

  it('verify: exit 0 for an intact log', async () => {
    const res = await cli('audit', 'verify');
    expect(res.code, res.err.join('\n')).toBe(0);
    expect(res.out.join('\n')).toMatch(/audit log intact: 20 records checked, last seq 20, signed checkpoints through seq 20/);
  });

  it('pubkey prints the public key, and verify --pubkey trusts only that key', async () => {
    const res = await cli('audit', 'pubkey');
    expect(res.code).toBe(0);
    const pem = res.out.join('\n');
    const key = await loadOrCreateSigningKey(env['AIRLOCK_AUDIT_SIGNING_KEY_FILE']!);
    expect(`${pem}\n`).toBe(publicKeyPem(key));
    expect(pem).not.toContain('PRIVATE');

    const pubFile = join(dir, 'audit.pub');
    await writeFile(pubFile, pem);
    expect((await cli('audit', 'verify', '--pubkey', pubFile)).code).toBe(0);
    const stranger = join(dir, 'stranger.pub');
    await writeFile(stranger, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const refused = await cli('audit', 'verify', '--pubkey', stranger);
    expect(refused.code).toBe(3);
    // no checkpoint verifies with that key: the oldest record is uncovered (and the checkpoints are forged)
    expect(refused.err.join('\n')).toMatch(/FAILED at seq \d+: checkpoint_(stale|signature_invalid)/);
    expect((await cli('audit', 'verify', '--pubkey', join(dir, 'missing.pub'))).code).toBe(1);
  });

  it('export: JSON lines within [since, until), to a new file, and the export is itself recorded', async () => {
    const out = join(dir, 'recent.jsonl');
    const since = new Date(Date.now() - 30 * DAY_MS).toISOString();
    const res = await cli('audit', 'export', '--since', since, '--until', new Date(Date.now() + DAY_MS).toISOString(), '--out', out);
    expect(res.code, res.err.join('\n')).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    const records = lines.map((l) => parseRecord(l));
    expect(records.every((r) => r !== null && Date.parse(r.time) >= Date.parse(since))).toBe(true);
    expect(records.map((r) => r!.seq)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
    expect(records.at(-1)).toMatchObject({ action: 'audit.export', actor: { type: 'system' }, details: { via: 'cli', out } });
    expect(res.err.join('\n')).toContain('exported 11 records');
    // never overwrites a file
    expect((await cli('audit', 'export', '--out', out)).code).toBe(1);
    // to stdout: one record per line
    const all = await cli('audit', 'export', '--until', since);
    expect(all.code).toBe(0);
    expect(all.out.map((l) => parseRecord(l)?.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await cli('audit', 'export', '--since', 'yesterday')).code).toBe(1);
  });

  it('trim: moves records older than the retention to a signed segment; verify still passes', async () => {
    const res = await cli('audit', 'trim');
    expect(res.code, res.err.join('\n')).toBe(0);
    expect(res.out.join('\n')).toMatch(/records 1\.\.10/);
    expect(await redis.hexists(`{${prefix}}:audit:records`, '1')).toBe(0);
    const verify = await cli('audit', 'verify');
    expect(verify.code, verify.err.join('\n')).toBe(0);
    expect(verify.out.join('\n')).toMatch(/records checked/);
    const again = await cli('audit', 'trim');
    expect(again.out.join('\n')).toContain('nothing older than 90 days');
  });

  it('verify: exit 3 with the first bad seq and the reason after one record is altered in Redis', async () => {
    const key = `{${prefix}}:audit:records`;
    const raw = (await redis.hget(key, '14'))!;
    const forged = raw.replace(/"target":"job_cli\d+"/, '"target":"job_innocent0"');
    expect(forged).not.toBe(raw);
    await redis.hset(key, '14', forged);
    try {
      const res = await cli('audit', 'verify');
      expect(res.code).toBe(3);
      const text = res.err.join('\n');
      expect(text).toContain('verification FAILED at seq 14: hash_mismatch');
      expect(text).toContain('Runbook');
    } finally {
      await redis.hset(key, '14', raw);
    }
    expect((await cli('audit', 'verify')).code).toBe(0);
  });
});
