/**
 * Real Redis for tests: each suite gets a unique key prefix (AIRLOCK_REDIS_PREFIX: the name
 * inside the deployment's hash tag, so its keys are `{prefix}:…`) and deletes its keys afterwards.
 */
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const TEST_REDIS_URL = process.env['AIRLOCK_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(name: string): string {
  return `test-${name}-${randomBytes(4).toString('hex')}`;
}

export function testRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
}

/** The name of a deployment's key: `{prefix}:rest` (tests that look at keys directly build them with this). */
export function redisKey(prefix: string, rest: string): string {
  return `{${prefix}}:${rest}`;
}

/** Deletes every key of the deployment `prefix` (SCAN, never KEYS). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', redisKey(prefix, '*'), 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * Every key under `pattern` (a SCAN MATCH pattern) and every value it holds, as one string:
 * what a test searches for secrets that must never be stored.
 */
export async function dumpKeys(redis: Redis, pattern: string): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat());
      else if (type === 'zset') parts.push(...(await redis.zrange(key, '0', '-1')));
      else if (type === 'set') parts.push(...(await redis.smembers(key)));
      else if (type === 'list') parts.push(...(await redis.lrange(key, '0', '-1')));
      else if (type !== 'none') parts.push(`<unchecked ${type}>`);
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** A client of its own (maxRetriesPerRequest 1). */
  readonly client: Redis;
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port, no persistence: for what the shared Redis
 * cannot give (a memory cap, command counts nobody else adds to, a server the test stops).
 */
export async function startPrivateRedis(extraArgs: readonly string[] = []): Promise<PrivateRedis> {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], { stdio: 'ignore' });
    const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => undefined);
    for (let i = 0; i < 40 && proc.exitCode === null; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      const pong = await client.connect().then(
        () => client.ping(),
        () => null,
      );
      if (pong === 'PONG') {
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          client,
          stop: async () => {
            client.disconnect();
            if (proc.exitCode === null) {
              proc.kill('SIGKILL');
              await exited;
            }
          },
        };
      }
    }
    client.disconnect();
    proc.kill('SIGKILL');
  }
  throw new Error('could not start a private redis-server');
}

/** Calls per command (`evalsha`, `hgetall`, …) from INFO commandstats: deltas between two readings count what a step sent. */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** `after - before`, per command, without the zeros. */
export function callDelta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cmd, n] of after) if (n - (before.get(cmd) ?? 0) > 0) out[cmd] = n - (before.get(cmd) ?? 0);
  return out;
}

/**
 * The commands clients send to a private redis-server, in order, as their arguments: SLOWLOG
 * with a threshold of 0 logs every command. What a Lua script calls inside is logged too, by
 * Redis's script client (address `?:0`), and left out here, as are this log's own commands: what
 * is left is what crossed the network, one entry per command (EXEC is not logged: a MULTI block
 * shows as `multi` and its commands). MONITOR-free: MONITOR would slow the server down.
 */
export interface SentCommand {
  readonly command: string[];
  /** `ip:port` of the connection that sent it. */
  readonly client: string;
}

export class CommandLog {
  private static readonly NAME = 'airlock-command-log';

  private constructor(private readonly redis: Redis) {}

  static async open(url: string): Promise<CommandLog> {
    const redis = new Redis(url, { maxRetriesPerRequest: 1, connectionName: CommandLog.NAME });
    await redis.config('SET', 'slowlog-log-slower-than', '0');
    await redis.config('SET', 'slowlog-max-len', '100000');
    await redis.slowlog('RESET');
    return new CommandLog(redis);
  }

  /** Commands sent since the last take (oldest first): [command, ...args] (Redis cuts long ones) and the client's address. */
  async take(): Promise<SentCommand[]> {
    const entries = (await this.redis.call('SLOWLOG', 'GET', '-1')) as [number, number, number, Buffer[] | string[], string, string][];
    await this.redis.slowlog('RESET');
    return entries
      .reverse()
      .filter(([, , , , addr, name]) => addr !== '?:0' && name !== CommandLog.NAME)
      .map(([, , , args, client]) => ({ command: args.map((a, i) => (i === 0 ? String(a).toLowerCase() : String(a))), client }));
  }

  close(): void {
    this.redis.disconnect();
  }
}
