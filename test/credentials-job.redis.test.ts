import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, JobCredentialIssuer, JobCredentialVerifier, parseJobCredentialOptions, type MintInput } from '../src/credentials/index.js';
import { AppError } from '../src/shared/index.js';
import { FakeClock } from './helpers/fake-clock.js';
import { deletePrefix, dumpKeys, testRedis, uniquePrefix } from './helpers/redis.js';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const MIN = 60_000;

const options = parseJobCredentialOptions({ issuer: 'airlock', audience: 'airlock-gateway', graceMs: 30_000, maxLifetimeMs: 2 * 3_600_000 });

/** The live API key the jobs below belong to (a mint refuses a missing or revoked key). */
let liveKeyId = '';

function grant(clock: FakeClock, over: Partial<MintInput> = {}): MintInput {
  return { jobId: 'job_abcdefgh1234', keyId: liveKeyId, profile: 'python', tools: ['staging', 'fixtures'], deadlineMs: clock.now() + 10 * MIN, ...over };
}

function decodePart(part: string): any {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** Re-encodes the payload with a change, keeping the original header and signature. */
function tamperPayload(token: string, change: (claims: any) => void): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const claims = decodePart(p);
  change(claims);
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
}

describe('job credentials', () => {
  let redis: Redis;
  let prefix: string;
  let otherPrefix: string;
  let dir: string;
  let clock: FakeClock;
  let issuer: JobCredentialIssuer;
  /** What the API process holds: Redis only, no key folder. */
  let verifier: JobCredentialVerifier;
  const tokens: string[] = [];

  beforeAll(async () => {
    redis = testRedis();
    prefix = uniquePrefix('cred');
    otherPrefix = uniquePrefix('cred-other');
    dir = await mkdtemp(join(tmpdir(), 'airlock-cred-'));
    clock = new FakeClock(T0);
    issuer = await JobCredentialIssuer.open({ redis, prefix, clock, options, keyDir: join(dir, 'keys') });
    verifier = new JobCredentialVerifier({ redis, prefix, clock, options });
    liveKeyId = (await new ApiKeyStore(redis, prefix, clock).create({ role: 'agent' })).id;
  });
  afterAll(async () => {
    try {
      await deletePrefix(redis, prefix);
      await deletePrefix(redis, otherPrefix);
    } finally {
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  });

  async function mint(over: Partial<MintInput> = {}) {
    const minted = await issuer.mint(grant(clock, over));
    tokens.push(minted.token);
    return minted;
  }

  it('mints an EdDSA JWT scoped to the job that a Redis-only verifier accepts', async () => {
    const deadlineMs = clock.now() + 10 * MIN;
    // issue 10: one token lives tokenLifetimeMs (30 s by default), not until deadline + grace
    const minted = await mint({ deadlineMs, tools: ['staging', 'fixtures', 'staging'] });
    const [h, p, s] = minted.token.split('.') as [string, string, string];
    expect(decodePart(h)).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: minted.kid });
    expect(Buffer.from(s, 'base64url')).toHaveLength(64);
    const claims = decodePart(p);
    expect(claims).toEqual({
      iss: 'airlock',
      sub: 'job_abcdefgh1234',
      aud: 'airlock-gateway',
      iat: T0 / 1000,
      nbf: T0 / 1000,
      exp: (T0 + options.tokenLifetimeMs) / 1000,
      jti: minted.jti,
      airlock: { jobId: 'job_abcdefgh1234', keyId: liveKeyId, profile: 'python', tools: ['fixtures', 'staging'] },
    });
    expect(minted.exp).toBe(claims.exp);
    expect(minted.expiresAtMs).toBe(claims.exp * 1000);

    const result = await verifier.verify(minted.token);
    expect(result).toEqual({ ok: true, claims });

    const { response, reason } = await verifier.introspect(minted.token);
    expect(reason).toBeUndefined();
    expect(response).toEqual({
      active: true,
      jobId: 'job_abcdefgh1234',
      sub: 'job_abcdefgh1234',
      tools: ['fixtures', 'staging'],
      profile: 'python',
      keyId: liveKeyId,
      exp: claims.exp,
      iat: claims.iat,
      jti: minted.jti,
      aud: 'airlock-gateway',
      iss: 'airlock',
      token_type: 'Bearer',
    });
  });

  it('verifies with node:crypto and only the published JWKS, as a third party would', async () => {
    const { token } = await mint();
    const served = JSON.parse(JSON.stringify(await verifier.jwks()));
    for (const k of served.keys) expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    const [h, p, s] = token.split('.') as [string, string, string];
    const jwk = served.keys.find((k: any) => k.kid === decodePart(h).kid);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
    expect(cryptoVerify(null, Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'))).toBe(true);
    expect(cryptoVerify(null, Buffer.from(`${h}.${p}x`), publicKey, Buffer.from(s, 'base64url'))).toBe(false);
  });

  it('revocation makes a token inactive at once; revoking again is harmless', async () => {
    const { token, jti } = await mint();
    expect((await verifier.verify(token)).ok).toBe(true);
    expect(await issuer.revoke(jti)).toBe(true);
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'revoked' });
    const introspection = await verifier.introspect(token);
    expect(introspection.response).toStrictEqual({ active: false });
    expect(introspection.reason).toBe('revoked');
    expect(await issuer.revoke(jti)).toBe(false);
  });

  it('revokeJob ends every token of one job and no other', async () => {
    const a1 = await mint({ jobId: 'job_revokeall01' });
    const a2 = await mint({ jobId: 'job_revokeall01' });
    const b = await mint({ jobId: 'job_keepalive01' });
    expect(await issuer.revokeJob('job_revokeall01')).toBe(2);
    expect(await verifier.verify(a1.token)).toEqual({ ok: false, reason: 'revoked' });
    expect(await verifier.verify(a2.token)).toEqual({ ok: false, reason: 'revoked' });
    expect((await verifier.verify(b.token)).ok).toBe(true);
    expect(await issuer.revokeJob('job_revokeall01')).toBe(0);
  });

  it('expires at deadline + grace, and is not valid before nbf', async () => {
    // deadline + grace within the token lifetime (issue 10: a later deadline is capped by tokenLifetimeMs)
    const deadlineMs = clock.now() + 5_000;
    const { token } = await mint({ deadlineMs, graceMs: 20_000 });
    const start = clock.now();
    try {
      clock.ms = deadlineMs + 19_000;
      expect((await verifier.verify(token)).ok).toBe(true);
      clock.ms = deadlineMs + 20_000;
      expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'expired' });
      expect(await verifier.introspect(token)).toStrictEqual({ response: { active: false }, reason: 'expired' });
      clock.ms = start - 10_000; // beyond the 5 s tolerance
      expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'not_yet_valid' });
      clock.ms = start - 4_000;
      expect((await verifier.verify(token)).ok).toBe(true);
    } finally {
      clock.ms = start;
    }
  });

  it('lives tokenLifetimeMs at most, however far the deadline (a JWKS-only verifier stops accepting it then)', async () => {
    const minted = await mint({ deadlineMs: clock.now() + 60 * MIN });
    expect(minted.expiresAtMs).toBe(clock.now() + options.tokenLifetimeMs);
    const start = clock.now();
    try {
      clock.ms = start + options.tokenLifetimeMs - 1;
      expect((await verifier.verify(minted.token)).ok).toBe(true);
      clock.ms = start + options.tokenLifetimeMs;
      expect(await verifier.verify(minted.token)).toEqual({ ok: false, reason: 'expired' });
    } finally {
      clock.ms = start;
    }
    const custom = parseJobCredentialOptions({ tokenLifetimeMs: 10_000 });
    expect(custom.tokenLifetimeMs).toBe(10_000);
    expect(() => parseJobCredentialOptions({ tokenLifetimeMs: 1_000 })).toThrow(/tokenLifetimeMs/);
  });

  it('refuses to mint for a revoked or missing API key, and writes nothing', async () => {
    const keys = new ApiKeyStore(redis, prefix, clock);
    const revokedKey = (await keys.create({ role: 'agent' })).id;
    expect((await mint({ jobId: 'job_keyrevoked01', keyId: revokedKey })).token).toBeTruthy();
    await keys.revoke(revokedKey);
    for (const [keyId, state] of [
      [revokedKey, 'revoked'],
      ['key_00000000deadbeef', 'missing'],
    ] as const) {
      const jobId = `job_refused${state}`;
      const err = await issuer.mint(grant(clock, { jobId, keyId })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('KEY_REVOKED');
      expect((err as AppError).message).toContain(state);
      expect(await redis.exists(`{${prefix}}:cred:job:${jobId}`)).toBe(0);
    }
    expect(await keys.state(revokedKey)).toBe('revoked');
    expect(await keys.state('key_00000000deadbeef')).toBe('missing');
    expect(await keys.state(liveKeyId)).toBe('active');
  });

  it('refuses tampered, malformed and foreign tokens with a typed reason', async () => {
    const { token } = await mint();
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(await verifier.verify(tamperPayload(token, (c) => c.airlock.tools.push('prod-db')))).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await verifier.verify(tamperPayload(token, (c) => (c.exp += 3600)))).toEqual({ ok: false, reason: 'bad_signature' });
    const flipped = Buffer.from(s, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(await verifier.verify(`${h}.${p}.${flipped.toString('base64url')}`)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await verifier.verify(`${h}.${p}.${s.slice(0, -2)}`)).toEqual({ ok: false, reason: 'bad_signature' });
    for (const bad of ['', 'abc', `${h}.${p}`, `${h}.${p}.${s}.x`, `${h}.${p}.${s}=`, 'a.b.c', `${h}.${p}.${s}`.replace(/^e/, 'E')]) {
      expect(await verifier.verify(bad)).toEqual({ ok: false, reason: 'malformed' });
    }
    const noneAlg = Buffer.from(JSON.stringify({ ...decodePart(h), alg: 'none' })).toString('base64url');
    expect(await verifier.verify(`${noneAlg}.${p}.`)).toEqual({ ok: false, reason: 'malformed' });
    expect(await verifier.verify(`${noneAlg}.${p}.${s}`)).toEqual({ ok: false, reason: 'malformed' });
    const otherKid = Buffer.from(JSON.stringify({ ...decodePart(h), kid: 'not-a-published-kid' })).toString('base64url');
    expect(await verifier.verify(`${otherKid}.${p}.${s}`)).toEqual({ ok: false, reason: 'unknown_key' });
    expect(await verifier.verify(token, { audience: 'someone-else' })).toEqual({ ok: false, reason: 'wrong_audience' });
    expect((await verifier.verify(token, { audience: 'airlock-gateway' })).ok).toBe(true);

    // another issuer (its own key folder, its own Redis prefix): its key is not published here
    const foreign = await JobCredentialIssuer.open({ redis, prefix: otherPrefix, clock, options, keyDir: join(dir, 'foreign-keys') });
    const foreignKeyId = (await new ApiKeyStore(redis, otherPrefix, clock).create({ role: 'agent' })).id;
    const foreignToken = (await foreign.mint(grant(clock, { keyId: foreignKeyId }))).token;
    tokens.push(foreignToken);
    expect((await foreign.verify(foreignToken)).ok).toBe(true);
    expect(await verifier.verify(foreignToken)).toEqual({ ok: false, reason: 'unknown_key' });

    // same key, other issuer name
    const otherIss = new JobCredentialVerifier({ redis, prefix, clock, options: parseJobCredentialOptions({ issuer: 'not-airlock' }) });
    expect(await otherIss.verify(token)).toEqual({ ok: false, reason: 'wrong_issuer' });
  });

  it('refuses to mint past the deadline or beyond the maximum lifetime', async () => {
    const past = await issuer.mint(grant(clock, { deadlineMs: clock.now() - 60_000, graceMs: 0 })).catch((e: unknown) => e);
    expect(past).toBeInstanceOf(AppError);
    const long = await issuer.mint(grant(clock, { deadlineMs: clock.now() + 3 * 3_600_000 })).catch((e: unknown) => e);
    expect(long).toBeInstanceOf(AppError);
    expect((long as AppError).code).toBe('CONFIG_INVALID');
    const noJob = await issuer.mint(grant(clock, { jobId: '' })).catch((e: unknown) => e);
    expect(noJob).toBeInstanceOf(AppError);
  });

  it('rotation: old tokens verify while their key is published; the JWKS drops the old key after notAfter', async () => {
    const start = clock.now();
    const oldKid = await issuer.currentKid();
    const old = await mint({ deadlineMs: clock.now() + 60 * MIN });
    // within the old token's life (tokenLifetimeMs, issue 10)
    clock.advance(10_000);
    const rotation = await issuer.rotate();
    expect(rotation.retiredKid).toBe(oldKid);
    expect(rotation.kid).not.toBe(oldKid);
    expect(rotation.retiredNotAfterMs).toBe(clock.now() + options.maxLifetimeMs);
    expect(await issuer.currentKid()).toBe(rotation.kid);
    const fresh = await mint({ deadlineMs: clock.now() + 100 * MIN });
    expect(fresh.kid).toBe(rotation.kid);
    // only the new private key is on disk
    expect(await readdir(join(dir, 'keys'))).toEqual(['current.pem']);

    expect((await verifier.verify(old.token)).ok).toBe(true);
    expect((await verifier.verify(fresh.token)).ok).toBe(true);
    expect((await verifier.jwks()).keys.map((k) => k.kid)).toEqual([rotation.kid, oldKid]);

    // the old key outlives every token it signed
    clock.ms = rotation.retiredNotAfterMs! - 1;
    expect((await verifier.jwks()).keys.map((k) => k.kid)).toEqual([rotation.kid, oldKid]);
    clock.ms = rotation.retiredNotAfterMs!;
    expect((await verifier.jwks()).keys.map((k) => k.kid)).toEqual([rotation.kid]);
    expect(await verifier.verify(old.token)).toEqual({ ok: false, reason: 'unknown_key' });
    clock.ms = start + 20_000;
    expect(await verifier.verify(old.token)).toEqual({ ok: false, reason: 'unknown_key' }); // pruned for good
    expect((await verifier.verify(fresh.token)).ok).toBe(true);

    // a second issuer process sharing the folder signs with the rotated key
    const sibling = await JobCredentialIssuer.open({ redis, prefix, clock, options, keyDir: join(dir, 'keys') });
    expect(await sibling.currentKid()).toBe(rotation.kid);
  });

  it('keeps the private key 0600 in a 0700 folder and refuses a key readable by others', async () => {
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'keys', 'current.pem'))).mode & 0o777).toBe(0o600);
    const { chmod } = await import('node:fs/promises');
    await chmod(join(dir, 'keys', 'current.pem'), 0o644);
    try {
      const err = await issuer.mint(grant(clock)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('CONFIG_INVALID');
    } finally {
      await chmod(join(dir, 'keys', 'current.pem'), 0o600);
    }
  });

  it('no token and no private key material ever reaches Redis', async () => {
    expect(tokens.length).toBeGreaterThan(5);
    const dump = (await dumpKeys(redis, `{${prefix}}:*`)) + (await dumpKeys(redis, `{${otherPrefix}}:*`));
    expect(dump).toContain(':cred:jwks');
    expect(dump).not.toContain('<unchecked');
    for (const token of tokens) {
      const [h, p, s] = token.split('.') as [string, string, string];
      expect(dump).not.toContain(token);
      expect(dump).not.toContain(s);
      expect(dump).not.toContain(p);
      expect(dump).not.toContain(`${h}.`);
    }
    expect(dump).not.toMatch(/PRIVATE KEY|"d"\s*:/);
  });
});
