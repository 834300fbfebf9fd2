/**
 * Every Redis connection of a deployment is opened here: to one server (a URL), or through Redis
 * Sentinel (the sentinels and the master's name; the URL then gives only the password, the
 * username, the database and TLS). With Sentinel, ioredis asks the sentinels for the master, checks
 * its ROLE, and asks again after a lost connection, so a failover moves every connection (API,
 * worker, BullMQ, audit) to the promoted replica.
 */
import { Redis, type RedisOptions } from 'ioredis';

export interface SentinelEndpoint {
  readonly hosts: readonly { readonly host: string; readonly port: number }[];
  /** The master's name in the sentinels' configuration (`sentinel monitor <name> …`). */
  readonly name: string;
  /** AUTH for the sentinels themselves (`requirepass` in sentinel.conf), when they have one. */
  readonly password?: string | undefined;
}

/** Where a deployment's Redis is: a URL, and optionally the sentinels that say which server is the master. */
export interface RedisEndpoint {
  readonly url: string;
  readonly sentinel?: SentinelEndpoint | undefined;
}

/** `host:port,host:port` (the form of AIRLOCK_REDIS_SENTINELS); a bad entry is named. */
export function parseSentinelHosts(list: string): { host: string; port: number }[] | { error: string } {
  const hosts: { host: string; port: number }[] = [];
  for (const entry of list.split(',').map((s) => s.trim())) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = Number(m?.[2]);
    if (m === null || port < 1 || port > 65535) return { error: `'${entry}' is not host:port` };
    hosts.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return hosts.length === 0 ? { error: 'name at least one sentinel' } : hosts;
}

/** The ioredis options of an endpoint (what `new Redis(…)` gets), merged with the caller's. */
export function redisOptions(endpoint: RedisEndpoint, opts: RedisOptions = {}): RedisOptions {
  const base: RedisOptions = { lazyConnect: true, connectTimeout: 5000, ...opts };
  const s = endpoint.sentinel;
  if (s === undefined) return base;
  const url = new URL(endpoint.url);
  const db = Number(url.pathname.replace(/^\//, '') || '0');
  return {
    ...base,
    sentinels: s.hosts.map((h) => ({ ...h })),
    name: s.name,
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
    ...(s.password !== undefined ? { sentinelPassword: s.password } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    // the sentinels are asked again after every lost connection; a failover takes seconds, not a give-up
    sentinelRetryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
}

/** A new, connected client (errors surface per command; the 'error' event is consumed). */
export async function connectRedis(endpoint: RedisEndpoint | string, opts: RedisOptions = {}): Promise<Redis> {
  const e = typeof endpoint === 'string' ? { url: endpoint } : endpoint;
  const options = redisOptions(e, opts);
  const redis = e.sentinel === undefined ? new Redis(e.url, options) : new Redis(options);
  redis.on('error', () => undefined); // surfaced per command; avoid unhandled 'error' events
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}
