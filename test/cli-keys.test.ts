/**
 * `airlock keys …` against the real Redis, under a unique prefix: each suite hands the CLI its
 * own AIRLOCK_* variables (run's `env`), never the test process's environment.
 */
import type { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit, RedisAuditStore } from '../src/audit/index.js';
import { run } from '../src/cli/index.js';
import { ApiKeyStore } from '../src/credentials/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobProducer, type JobInput } from '../src/queue/index.js';
import { systemClock } from '../src/shared/index.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';

interface CliResult {
  code: number;
  out: string[];
  err: string[];
}

/** The variables the CLI runs with in the current suite (cliEnv). */
let env: Record<string, string> = {};

async function cli(...argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (s) => out.push(...s.split('\n')), err: (s) => err.push(...s.split('\n')), env });
  return { code, out, err };
}

/** Creates a key through the CLI and returns the printed key (the last output line) and its id. */
async function createKey(role = 'agent', ...extra: string[]): Promise<{ key: string; id: string; res: CliResult }> {
  const res = await cli('keys', 'create', '--role', role, ...extra);
  expect(res.code, res.err.join('\n')).toBe(0);
  const key = res.out.at(-1) ?? '';
  const m = /^ak_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/.exec(key);
  expect(m, `last line should be the key, got ${JSON.stringify(key)}`).not.toBeNull();
  return { key, id: `key_${m![1]!}`, res };
}

/** Points the CLI's configuration at a test prefix for one suite (the variables it is given, not the process's). */
function cliEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return { AIRLOCK_REDIS_PREFIX: prefix, AIRLOCK_REDIS_URL: TEST_REDIS_URL, ...extra };
}

describe('airlock keys (CLI)', () => {
  const prefix = uniquePrefix('cli-keys');
  let redis: Redis;
  let store: ApiKeyStore;

  beforeAll(() => {
    env = cliEnv(prefix);
    redis = testRedis();
    store = new ApiKeyStore(redis, prefix, systemClock);
  });
  afterAll(async () => {
    if (redis !== undefined) {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('keys create prints the key once, on the last line, and it verifies', async () => {
    const { key, id, res } = await createKey('agent', '--name', 'ci-bot', '--owner', 'team-a');
    expect(res.err).toEqual([]);
    expect(res.out.filter((l) => l.includes(key))).toHaveLength(1);
    expect(res.out.join('\n')).toContain(id);
    expect(await store.verify(key)).toMatchObject({ id, role: 'agent', name: 'ci-bot', owner: 'team-a' });
    // stored under the prefix from the CLI's variables, and only as a hash
    const stored = await redis.hgetall(`{${prefix}}:apikey:${id}`);
    expect(stored['role']).toBe('agent');
    expect(Object.values(stored).join('\n')).not.toContain(key.slice(20));
  });

  it.each(['reviewer', 'admin', 'service'])('keys create --role %s makes a key of that role', async (role) => {
    const { key } = await createKey(role);
    expect((await store.verify(key))?.role).toBe(role);
  });

  it('keys list shows the id and role but never the secret', async () => {
    const { key, id } = await createKey('agent', '--name', 'listed');
    const res = await cli('keys', 'list');
    expect(res.code).toBe(0);
    const text = res.out.join('\n');
    const row = res.out.find((l) => l.startsWith(id));
    expect(row).toBeDefined();
    expect(row).toMatch(/\bagent\b.*\bactive\b.*listed/);
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(20));
  });

  it('keys create --groups makes a reviewer of those groups; list shows them', async () => {
    const { key, id } = await createKey('reviewer', '--owner', 'bob', '--groups', 'platform, security,platform');
    expect(await store.verify(key)).toMatchObject({ id, role: 'reviewer', owner: 'bob', groups: ['platform', 'security'] });
    const row = (await cli('keys', 'list')).out.find((l) => l.startsWith(id));
    expect(row).toMatch(/\breviewer\b.*\bbob\b.*platform,security/);
    const bad = await cli('keys', 'create', '--role', 'reviewer', '--groups', 'Platform Team');
    expect(bad.code).toBe(1);
    expect(bad.err.join('\n')).toContain('INVALID_REQUEST');
  });

  it('keys revoke makes verify fail, and list shows it revoked', async () => {
    const { key, id } = await createKey('agent');
    expect(await store.verify(key)).toBeDefined();
    const res = await cli('keys', 'revoke', id);
    expect(res.code).toBe(0);
    expect(res.out.join('\n')).toContain(`revoked ${id}`);
    expect(await store.verify(key)).toBeUndefined();
    const row = (await cli('keys', 'list')).out.find((l) => l.startsWith(id));
    expect(row).toMatch(/\brevoked\b/);
  });

  it('keys revoke cancels the key’s queued jobs (a job.cancel record each) and leaves its running job; --kill-running kills it', async () => {
    const shell = loadProfiles(resolve(import.meta.dirname, '../profiles')).get('shell')!;
    const input: JobInput = { profile: 'shell', argv: ['true'], files: [], stdin: '', env: {}, limits: shell.profile.limits };
    const producer = new JobProducer({ redis, prefix, attempts: 1, retryBackoffMs: 100, finishedTtlS: 600, clock: systemClock });
    const audit = new RedisAuditStore({ redis, prefix, clock: systemClock });
    try {
      for (const killRunning of [false, true]) {
        const { id } = await createKey('agent');
        const running = (await producer.submit(id, input)).id;
        const queued = [(await producer.submit(id, input)).id, (await producer.submit(id, input)).id];
        await producer.store.start(running, 'w-cli-test', new Date().toISOString()); // as a worker would
        const res = await cli('keys', 'revoke', id, ...(killRunning ? ['--kill-running'] : []));
        expect(res.code, res.err.join('\n')).toBe(0);
        const text = res.out.join('\n');
        expect(text).toContain(`revoked ${id}`);
        expect(text).toContain(killRunning ? '2 queued cancelled, 1 running killed, 0 running left' : '2 queued cancelled, 0 running killed, 1 running left');
        for (const job of queued) {
          expect(await producer.get(job)).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' } });
          const cancels = (await queryAudit(audit, { action: 'job.cancel', target: job })).records;
          expect(cancels).toMatchObject([{ actor: { type: 'system' }, details: { reason: 'key revoked', keyId: id } }]);
        }
        expect(await producer.get(running)).toMatchObject({ status: 'running', cancelRequested: killRunning });
        const revoke = (await queryAudit(audit, { action: 'key.revoke', target: id })).records;
        expect(revoke).toMatchObject([{ actor: { type: 'system' }, details: { killRunning, cancelled: 2 } }]);
      }
    } finally {
      await producer.close();
    }
  });

  it('keys revoke of an unknown id or without an id exits 1 with a message', async () => {
    const unknown = await cli('keys', 'revoke', 'key_0000000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.err.join('\n')).toContain('KEY_NOT_FOUND');
    const missing = await cli('keys', 'revoke');
    expect(missing.code).toBe(1);
    expect(missing.err.join('\n')).toContain('usage');
  });

  it.each([['--role', 'root'], ['--role'], []])('keys create %j exits 1 with a message and creates nothing', async (...flags: string[]) => {
    const before = await redis.zcard(`{${prefix}}:apikeys`);
    const res = await cli('keys', 'create', ...flags);
    expect(res.code).toBe(1);
    expect(res.out).toEqual([]);
    expect(res.err.join('\n')).toMatch(/--role must be one of agent, reviewer, admin, service/);
    expect(await redis.zcard(`{${prefix}}:apikeys`)).toBe(before);
  });

  it('an unknown keys subcommand exits 1 with usage', async () => {
    const res = await cli('keys', 'rotate');
    expect(res.code).toBe(1);
    expect(res.err.join('\n')).toContain('usage: airlock keys create|list|revoke');
  });

  it('an unknown command exits 2 with the help text', async () => {
    const res = await cli('frobnicate');
    expect(res.code).toBe(2);
    const err = res.err.join('\n');
    expect(err).toContain('unknown command frobnicate');
    expect(err).toContain('Usage:');
  });

  it('help exits 0; no command at all exits 2', async () => {
    expect((await cli('help')).code).toBe(0);
    const none = await cli();
    expect(none.code).toBe(2);
    expect(none.out.join('\n')).toContain('Usage:');
  });
});

describe('airlock keys create --tools/--profiles and airlock capabilities', () => {
  const prefix = uniquePrefix('cli-caps');
  let redis: Redis;
  beforeAll(() => {
    env = cliEnv(prefix);
    redis = testRedis();
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it('stores a key’s allowed profiles and tools and shows its reach in the matrix', async () => {
    const { id } = await createKey('agent', '--profiles', 'shell,python', '--tools', 'staging');
    const info = await new ApiKeyStore(redis, prefix, systemClock).get(id);
    expect(info).toMatchObject({ profiles: ['shell', 'python'], tools: ['staging'] });
    const json = await cli('capabilities', '--json');
    expect(json.code, json.err.join('\n')).toBe(0);
    const matrix = JSON.parse(json.out.join('\n')) as { profiles: { name: string; network: string }[]; keys: { id: string; reach: { profile: string }[] }[] };
    expect(matrix.profiles.map((p) => p.name).sort()).toEqual(['node', 'node-gvisor', 'python', 'python-gvisor', 'shell', 'shell-gvisor']);
    expect(matrix.profiles.every((p) => p.network === 'none')).toBe(true);
    expect(
      matrix.keys
        .find((k) => k.id === id)
        ?.reach.map((r) => r.profile)
        .sort(),
    ).toEqual(['python', 'shell']);
    const table = await cli('capabilities');
    expect(table.out[0]).toBe('PROFILES');
    expect(table.out.join('\n')).toMatch(new RegExp(`${id}\\s+agent\\s+active`));
  });
});

describe('airlock credentials rotate', () => {
  const prefix = uniquePrefix('cli-rotate');
  let redis: Redis;
  let keyDir: string;
  beforeAll(async () => {
    keyDir = await mkdtemp(join(tmpdir(), 'airlock-rotate-'));
    env = cliEnv(prefix, { AIRLOCK_JOB_TOKEN_KEY_DIR: keyDir });
    redis = testRedis();
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await rm(keyDir, { recursive: true, force: true });
  });

  it('signs with a new key and keeps the old one published', async () => {
    const first = await cli('credentials', 'rotate');
    expect(first.code, first.err.join('\n')).toBe(0);
    const second = await cli('credentials', 'rotate');
    expect(second.out[0]).toMatch(/^signing with \S+; \S+ stays published until \d{4}-/);
    const jwks = await redis.hgetall(`{${prefix}}:cred:jwks`);
    expect(Object.keys(jwks).length).toBeGreaterThanOrEqual(2);
    expect((await cli('credentials', 'nope')).code).toBe(1);
  });
});
