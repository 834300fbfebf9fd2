/** AIRLOCK_REDIS_SENTINELS and friends onto the endpoints every connection is opened with (pure). */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { parseSentinelHosts, redisOptions } from '../src/shared/redis/index.js';

const SENTINELS = { AIRLOCK_REDIS_SENTINELS: '10.0.0.1:26379, sentinel-b:26380,[::1]:26381', AIRLOCK_REDIS_SENTINEL_MASTER: 'airlock' };

describe('Sentinel configuration', () => {
  it('without sentinels the endpoints are the URLs; with them, the jobs and the audit log go through the sentinels', () => {
    expect(loadConfig({}).redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'airlock' });
    const c = loadConfig({ ...SENTINELS, AIRLOCK_REDIS_URL: 'redis://:secret@ignored-host:6379/2', AIRLOCK_REDIS_SENTINEL_PASSWORD: 'sentinel-secret' });
    const hosts = [
      { host: '10.0.0.1', port: 26379 },
      { host: 'sentinel-b', port: 26380 },
      { host: '::1', port: 26381 },
    ];
    expect(c.redis.sentinel).toEqual({ hosts, name: 'airlock', password: 'sentinel-secret' });
    expect(c.audit.redis.sentinel).toEqual({ hosts, name: 'airlock', password: 'sentinel-secret' });
    // the URL gives only the password and the database: the host is whatever the sentinels name
    expect(redisOptions(c.redis, { maxRetriesPerRequest: null })).toMatchObject({
      sentinels: hosts,
      name: 'airlock',
      password: 'secret',
      sentinelPassword: 'sentinel-secret',
      db: 2,
      maxRetriesPerRequest: null,
      lazyConnect: true,
    });
  });

  it('the audit log may be another master of the same sentinels, or a Redis of its own', () => {
    expect(loadConfig({ ...SENTINELS, AIRLOCK_AUDIT_REDIS_SENTINEL_MASTER: 'audit' }).audit.redis.sentinel?.name).toBe('audit');
    expect(loadConfig({ ...SENTINELS, AIRLOCK_AUDIT_REDIS_URL: 'redis://audit:6379' }).audit.redis).toEqual({ url: 'redis://audit:6379' });
  });

  it('mistakes are named by variable', () => {
    expect(() => loadConfig({ AIRLOCK_REDIS_SENTINELS: '10.0.0.1:26379' })).toThrow(/AIRLOCK_REDIS_SENTINEL_MASTER: name the master/);
    expect(() => loadConfig({ AIRLOCK_REDIS_SENTINEL_MASTER: 'airlock' })).toThrow(/needs AIRLOCK_REDIS_SENTINELS/);
    expect(() => loadConfig({ ...SENTINELS, AIRLOCK_REDIS_SENTINELS: '10.0.0.1' })).toThrow(/AIRLOCK_REDIS_SENTINELS: '10.0.0.1' is not host:port/);
    expect(parseSentinelHosts('a:0')).toEqual({ error: "'a:0' is not host:port" });
    expect(() => loadConfig({ AIRLOCK_AUDIT_WAIT_REPLICAS: '17' })).toThrow(/AIRLOCK_AUDIT_WAIT_REPLICAS/);
  });
});
