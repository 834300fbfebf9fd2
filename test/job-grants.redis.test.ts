/**
 * Issue 10, "a job token stays valid for JWKS-only verifiers ~70 s after its job ended": a
 * granted job's tokens live tokenLifetimeMs at most and are re-minted while it runs, so a
 * verifier that checks only the signature (JWKS) and `exp` refuses the job's last token
 * tokenLifetimeMs after the job ended. Real Redis, real issuer and gateway socket; the clock is
 * injected (never wall time).
 */
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit, RedisAuditStore } from '../src/audit/index.js';
import { ApiKeyStore, JobCredentialIssuer, parseJobCredentialOptions } from '../src/credentials/index.js';
import { parseTools } from '../src/gateway/index.js';
import { JobGrants, type OpenGrant } from '../src/queue/index.js';
import { createLogger } from '../src/shared/index.js';
import { FakeClock } from './helpers/fake-clock.js';
import { deletePrefix, testRedis, uniquePrefix } from './helpers/redis.js';

const T0 = Date.parse('2025-03-01T00:00:00.000Z');
const MIN = 60_000;

const options = parseJobCredentialOptions();
/** The default tokenLifetimeMs. */
const LIFETIME_MS = 30_000;

describe('job grants: short-lived, refreshed tokens', () => {
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let clock: FakeClock;
  let issuer: JobCredentialIssuer;
  let keys: ApiKeyStore;
  let audit: RedisAuditStore;
  let grants: JobGrants;

  beforeAll(async () => {
    redis = testRedis();
    prefix = uniquePrefix('grants');
    dir = await mkdtemp(join(tmpdir(), 'agr-'));
    clock = new FakeClock(T0);
    issuer = await JobCredentialIssuer.open({ redis, prefix, clock, options, keyDir: join(dir, 'keys') });
    keys = new ApiKeyStore(redis, prefix, clock);
    audit = new RedisAuditStore({ redis, prefix, clock });
    const tools = parseTools([{ name: 'staging', type: 'http', origin: 'http://127.0.0.1:9', methods: ['GET'], pathPrefixes: ['/'] }]);
    grants = new JobGrants({ issuer, tools, resolveSecret: () => undefined, gatewayDir: join(dir, 'gw'), audit, workerId: 'w-test', logger: createLogger({ level: 'silent' }) });
  });
  afterAll(async () => {
    try {
      await deletePrefix(redis, prefix);
    } finally {
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** What a third party holding only the JWKS does: the signature, then `exp` against its clock. */
  async function jwksOnlyAccepts(token: string): Promise<boolean> {
    const [h, p, s] = token.split('.') as [string, string, string];
    const { kid } = JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string };
    const jwk = (await issuer.jwks()).keys.find((k) => k.kid === kid);
    if (jwk === undefined) return false;
    if (!verifySignature(null, Buffer.from(`${h}.${p}`), createPublicKey({ key: { ...jwk }, format: 'jwk' }), Buffer.from(s, 'base64url'))) return false;
    const { exp } = JSON.parse(Buffer.from(p, 'base64url').toString()) as { exp: number };
    return clock.now() < exp * 1000;
  }

  const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const expOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;

  async function openFor(jobId: string, keyId: string): Promise<OpenGrant> {
    // a long job: its deadline (+ grace) is far beyond one token's life
    return grants.open({ jobId, keyId, profile: 'python', tools: ['staging'], deadlineMs: clock.now() + 30 * MIN, attempt: 1 });
  }

  it('a JWKS-only verifier refuses the last token tokenLifetimeMs after the job ended, not at deadline + grace', async () => {
    clock.ms = T0;
    const key = await keys.create({ role: 'agent', tools: ['staging'] });
    const grant = await openFor('job_refreshed00001', key.id);
    const tokenFile = join(grant.dir, 'token');
    const first = (await readFile(tokenFile, 'utf8')).trim();
    expect(expOf(first) * 1000).toBe(T0 + LIFETIME_MS);
    expect(await jwksOnlyAccepts(first)).toBe(true);

    // while the job runs, the file always holds a token with time left
    clock.ms = T0 + LIFETIME_MS / 3;
    expect(await grant.refresh()).toBe(true);
    const second = (await readFile(tokenFile, 'utf8')).trim();
    expect(second).not.toBe(first);
    expect(expOf(second) * 1000).toBe(clock.now() + LIFETIME_MS);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o444);
    clock.ms = T0 + LIFETIME_MS + 1_000;
    expect(await jwksOnlyAccepts(first)).toBe(false);
    expect(await jwksOnlyAccepts(second)).toBe(true);
    expect((await issuer.verify(second)).ok).toBe(true);

    // the job ends: introspection and the gateway refuse at once; a JWKS-only verifier within tokenLifetimeMs
    const endMs = clock.now();
    await grant.close();
    expect(await issuer.verify(second)).toEqual({ ok: false, reason: 'revoked' });
    expect(await redis.exists(`{${prefix}}:cred:active:${jtiOf(first)}`)).toBe(0);
    const residualMs = expOf(second) * 1000 - endMs;
    expect(residualMs).toBeGreaterThan(0);
    expect(residualMs).toBeLessThanOrEqual(LIFETIME_MS);
    clock.ms = endMs + LIFETIME_MS;
    expect(await jwksOnlyAccepts(second)).toBe(false);
    // before issue 10 it was accepted until the deadline + grace, half an hour on
    clock.ms = T0 + 30 * MIN;
    expect(await jwksOnlyAccepts(second)).toBe(false);

    const mints = (await queryAudit(audit, { action: 'credential.mint', target: 'job_refreshed00001', order: 'asc' })).records;
    expect(mints.map((r) => r.details?.['refresh'] ?? false)).toEqual([false, true]);
    const revokes = (await queryAudit(audit, { action: 'credential.revoke', target: 'job_refreshed00001' })).records;
    expect(revokes).toHaveLength(1);
    expect(revokes[0]?.details).toMatchObject({ jtis: mints.map((r) => r.details?.['jti']), revoked: 2 });
  });

  it('stops refreshing once the job’s key is revoked: no token is minted for it again', async () => {
    clock.ms = T0;
    const key = await keys.create({ role: 'agent', tools: ['staging'] });
    const grant = await openFor('job_refreshrevoked', key.id);
    try {
      const tokenFile = join(grant.dir, 'token');
      const first = await readFile(tokenFile, 'utf8');
      await keys.revoke(key.id);
      clock.ms = T0 + LIFETIME_MS / 3;
      expect(await grant.refresh()).toBe(false);
      expect(await readFile(tokenFile, 'utf8')).toBe(first);
      expect(await grant.refresh()).toBe(false);
      const mints = (await queryAudit(audit, { action: 'credential.mint', target: 'job_refreshrevoked' })).records;
      expect(mints).toHaveLength(1);
      // the token it had dies with its own short exp (and at once when the revocation or the job's end revokes it)
      clock.ms = T0 + LIFETIME_MS;
      expect(await jwksOnlyAccepts(first)).toBe(false);
    } finally {
      await grant.close();
    }
  });

  it('opens no grant at all for a revoked key (KEY_REVOKED)', async () => {
    clock.ms = T0;
    const key = await keys.create({ role: 'agent', tools: ['staging'] });
    await keys.revoke(key.id);
    await expect(openFor('job_neverminted001', key.id)).rejects.toMatchObject({ code: 'KEY_REVOKED' });
    expect((await queryAudit(audit, { action: 'credential.mint', target: 'job_neverminted001' })).records).toEqual([]);
    expect(await redis.exists(`{${prefix}}:cred:job:job_neverminted001`)).toBe(0);
  });
});
