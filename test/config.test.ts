/** config.ts parses the environment once and names every bad variable in one CONFIG_INVALID. */
import { describe, expect, it } from 'vitest';
import { AUDIT_DEFAULTS } from '../src/audit/index.js';
import { ConfigSchema, loadConfig } from '../src/config.js';
import { parseJobCredentialOptions } from '../src/credentials/index.js';
import { CallRateSchema, DEFAULT_CALL_RATE } from '../src/gateway/index.js';
import { ReviewOptionsSchema, WebhookOptionsSchema, webhookOptions } from '../src/review/index.js';
import { PoolOptionsSchema, poolSize } from '../src/sandbox/index.js';
import { configError } from './helpers/config-error.js';

describe('loadConfig', () => {
  it("names each module option's problem by the variable that set it, all at once", () => {
    const msg = configError(() => loadConfig({ AIRLOCK_JOB_TOKEN_GRACE_MS: '99999999', AIRLOCK_JOB_TOKEN_MAX_LIFETIME_MS: '5', AIRLOCK_AUDIT_CHECKPOINT_EVERY_RECORDS: '0' }));
    expect(
      msg
        .split('\n')
        .slice(1)
        .map((l) => l.split(':')[0]!.trim()),
    ).toEqual(['AIRLOCK_AUDIT_CHECKPOINT_EVERY_RECORDS', 'AIRLOCK_JOB_TOKEN_GRACE_MS', 'AIRLOCK_JOB_TOKEN_MAX_LIFETIME_MS']);
  });

  it('passes the job token variables to the credential options', () => {
    const config = loadConfig({ AIRLOCK_JOB_TOKEN_ISSUER: 'airlock-test', AIRLOCK_JOB_TOKEN_AUDIENCE: 'gw', AIRLOCK_JOB_TOKEN_GRACE_MS: '1000' });
    expect(config.credentials.options).toMatchObject({ issuer: 'airlock-test', audience: ['gw'], graceMs: 1000, maxLifetimeMs: 2 * 3_600_000 });
    expect(Object.isFrozen(config.credentials.options.audience)).toBe(true);
  });
});

/** Variables a module's option schema owns: config.ts types them and names them in messages, nothing more. */
const MODULE_VARIABLES = Object.keys(ConfigSchema.shape).filter((v) =>
  /^AIRLOCK_(AUDIT_(?!REDIS_URL)|JOB_TOKEN_(?!KEY_DIR)|GATEWAY_CALL|REVIEW_(SWEEP|APPLY)|WEBHOOK_|POOL_)/.test(v),
);

describe('defaults live only in the option schemas', () => {
  it('config.ts writes no default for a variable a module owns', () => {
    expect(MODULE_VARIABLES).toEqual(
      expect.arrayContaining([
        'AIRLOCK_GATEWAY_CALLS_PER_S',
        'AIRLOCK_GATEWAY_CALL_BURST',
        'AIRLOCK_REVIEW_SWEEP_MS',
        'AIRLOCK_WEBHOOK_ATTEMPTS',
        'AIRLOCK_JOB_TOKEN_GRACE_MS',
        'AIRLOCK_AUDIT_RETENTION_DAYS',
      ]),
    );
    const raw = ConfigSchema.parse({}) as Record<string, unknown>;
    expect(MODULE_VARIABLES.filter((v) => raw[v] !== undefined)).toEqual([]);
  });

  it("an unset variable takes its module schema's default, the one a part built without config falls back to", () => {
    const c = loadConfig({});
    expect(c.tools.callRate).toEqual(CallRateSchema.parse({}));
    expect(c.tools.callRate).toEqual(DEFAULT_CALL_RATE);
    expect(c.review.webhook).toEqual(WebhookOptionsSchema.parse({}));
    expect(c.review.webhook).toEqual(webhookOptions());
    expect({ sweepMs: c.review.sweepMs, applyLeaseMs: c.review.applyLeaseMs }).toEqual(ReviewOptionsSchema.parse({}));
    expect(c.credentials.options).toEqual(parseJobCredentialOptions());
    expect(c.audit).toMatchObject(AUDIT_DEFAULTS);
  });

  it("a set variable is checked against its module's range, and a problem is named by the variable", () => {
    const msg = configError(() =>
      loadConfig({ AIRLOCK_GATEWAY_CALLS_PER_S: '0', AIRLOCK_REVIEW_SWEEP_MS: '50', AIRLOCK_WEBHOOK_ATTEMPTS: '11', AIRLOCK_AUDIT_RETENTION_DAYS: '30' }),
    );
    expect(
      msg
        .split('\n')
        .slice(1)
        .map((l) => l.split(':')[0]!.trim()),
    ).toEqual(['AIRLOCK_AUDIT_RETENTION_DAYS', 'AIRLOCK_GATEWAY_CALLS_PER_S', 'AIRLOCK_REVIEW_SWEEP_MS', 'AIRLOCK_WEBHOOK_ATTEMPTS']);
    expect(msg).toContain('AIRLOCK_AUDIT_RETENTION_DAYS: audit retention must be at least 90 days');

    const c = loadConfig({ AIRLOCK_GATEWAY_CALLS_PER_S: '7', AIRLOCK_WEBHOOK_ATTEMPTS: '2', AIRLOCK_REVIEW_APPLY_LEASE_MS: '5000' });
    expect(c.tools.callRate).toEqual({ ...DEFAULT_CALL_RATE, perSecond: 7 });
    expect(c.review.webhook).toEqual({ ...webhookOptions(), attempts: 2 });
    expect(c.review).toMatchObject({ applyLeaseMs: 5000, sweepMs: ReviewOptionsSchema.parse({}).sweepMs });
  });
});

describe('the warm pool (AIRLOCK_POOL_*)', () => {
  it("unset: the sandbox module's defaults (every pool as large as the worker's concurrency, replaced after 10 minutes idle)", () => {
    const c = loadConfig({ AIRLOCK_WORKER_CONCURRENCY: '3' });
    expect(c.pool).toEqual(PoolOptionsSchema.parse({}));
    expect(c.pool.maxIdleMs).toBe(600_000);
    expect(poolSize(c.pool.size, 'python', c.worker.concurrency)).toBe(3);
  });

  it('a size for every pool, and one per pool by name (0 disables it)', () => {
    const c = loadConfig({ AIRLOCK_POOL_SIZE: '2, python=5,node+tools=0', AIRLOCK_POOL_MAX_IDLE_MS: '60000' });
    expect(c.pool).toMatchObject({ size: { default: 2, byPool: { python: 5, 'node+tools': 0 } }, maxIdleMs: 60_000 });
    expect([poolSize(c.pool.size, 'python', 4), poolSize(c.pool.size, 'shell', 4), poolSize(c.pool.size, 'node+tools', 4)]).toEqual([5, 2, 0]);
  });

  it('a bad size or idle time is named by its variable', () => {
    const msg = configError(() => loadConfig({ AIRLOCK_POOL_SIZE: 'python=lots', AIRLOCK_POOL_MAX_IDLE_MS: '5' }));
    expect(msg).toContain('AIRLOCK_POOL_SIZE: "python=lots" is neither N nor <pool>=N');
    expect(msg).toMatch(/AIRLOCK_POOL_MAX_IDLE_MS: .*1000/);
    expect(configError(() => loadConfig({ AIRLOCK_POOL_SIZE: '65' }))).toMatch(/AIRLOCK_POOL_SIZE: .*64/);
  });
});

describe('MCP host and origin allowances (AIRLOCK_MCP_ALLOWED_*)', () => {
  it('unset: none (loopback and IP literals only, no browser origin)', () => {
    expect(loadConfig({}).http.mcp).toEqual({ allowedHosts: [], allowedOrigins: [] });
  });

  it('comma-separated names and origins, compared lowercase', () => {
    const c = loadConfig({ AIRLOCK_MCP_ALLOWED_HOSTS: 'Airlock.internal,api', AIRLOCK_MCP_ALLOWED_ORIGINS: 'https://Console.example,http://localhost:3000' });
    expect(c.http.mcp).toEqual({ allowedHosts: ['airlock.internal', 'api'], allowedOrigins: ['https://console.example', 'http://localhost:3000'] });
  });

  it('a host with a port or a scheme, or an origin with a path, is named by its variable', () => {
    expect(configError(() => loadConfig({ AIRLOCK_MCP_ALLOWED_HOSTS: 'airlock.internal:8080' }))).toContain('AIRLOCK_MCP_ALLOWED_HOSTS');
    expect(configError(() => loadConfig({ AIRLOCK_MCP_ALLOWED_HOSTS: 'https://airlock.internal' }))).toContain('AIRLOCK_MCP_ALLOWED_HOSTS');
    expect(configError(() => loadConfig({ AIRLOCK_MCP_ALLOWED_ORIGINS: 'https://console.example/' }))).toContain('AIRLOCK_MCP_ALLOWED_ORIGINS');
    expect(configError(() => loadConfig({ AIRLOCK_MCP_ALLOWED_ORIGINS: '*' }))).toContain('AIRLOCK_MCP_ALLOWED_ORIGINS');
  });
});
