/** config.ts parses the environment once and names every bad variable in one CONFIG_INVALID. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
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
