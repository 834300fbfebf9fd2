/**
 * The composition root (issue 11): a start that fails late releases every connection it opened,
 * and a stop releases them all. Counted with CLIENT LIST on a private redis-server, so no other
 * test's clients are counted; before, startAirlock left its Redis connections open when a later
 * step failed.
 */
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import { connectionName, openAirlock } from '../src/root/index.js';
import { AsyncDisposableStack, createLogger, DisposalError } from '../src/shared/index.js';
import { PolyfillAsyncDisposableStack } from '../src/shared/async-disposable-stack.js';
import { testConfig } from './helpers/airlock.js';
import { auditFiles } from './helpers/audit.js';
import { startPrivateRedis, uniquePrefix, type PrivateRedis } from './helpers/redis.js';

const silent = createLogger({ level: 'silent' });

describe('composition root: what a start opens, a failed start and a stop release', () => {
  let redis: PrivateRedis;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    const files = await auditFiles();
    dir = files.dir;
    env = { AIRLOCK_REDIS_URL: redis.url, AIRLOCK_ROLE: 'api', ...files.env };
  });
  afterAll(async () => {
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Clients of the private Redis other than the test's own observer, by name. */
  async function clients(): Promise<string[]> {
    const list = (await redis.client.client('LIST')) as string;
    const self = String(await redis.client.client('ID'));
    return list
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith(`id=${self} `))
      .map((l) => /\bname=(\S*)/.exec(l)?.[1] ?? '');
  }

  /** Clients settle after QUIT; wait until none is left, or report what is. */
  async function settledClients(): Promise<string[]> {
    let left = await clients();
    for (let i = 0; i < 40 && left.length > 0; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      left = await clients();
    }
    return left;
  }

  const config = (prefix: string, extra: Record<string, string> = {}): Config => testConfig(prefix, { ...env, ...extra });

  it('a started API holds its named connections; closing it releases them all', async () => {
    const prefix = uniquePrefix('root-ok');
    expect(await clients()).toEqual([]);
    const airlock = await openAirlock(config(prefix), { logger: silent });
    try {
      expect((await clients()).sort()).toEqual(['api-events', 'audit', 'commands'].map((p) => connectionName(prefix, p)).sort());
    } finally {
      await airlock.close();
    }
    expect(await settledClients()).toEqual([]);
  });

  it('a start that fails at the last step (the port is taken) releases every connection it opened', async () => {
    const taken: Server = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = String((taken.address() as { port: number }).port);
    try {
      const err = await openAirlock(config(uniquePrefix('root-port'), { AIRLOCK_PORT: port }), { logger: silent }).catch((e: unknown) => e);
      expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
      expect(await settledClients()).toEqual([]);
    } finally {
      taken.close();
    }
  });

  it('a start whose Docker engine cannot be reached (role all) releases every connection it opened', async () => {
    const err = await openAirlock(config(uniquePrefix('root-engine'), { AIRLOCK_ROLE: 'all', AIRLOCK_DOCKER_SOCKET: join(dir, 'no-docker.sock') }), { logger: silent }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(await settledClients()).toEqual([]);
  });

  it('a start with a bad approval policy releases every connection it opened', async () => {
    const policy = join(await mkdtemp(join(tmpdir(), 'airlock-policy-')), 'policy.json');
    await writeFile(policy, '{"version": 1, "targets": {"x": {"target": {"type": "nowhere"}}}}');
    try {
      const err = await openAirlock(config(uniquePrefix('root-policy'), { AIRLOCK_REVIEW_POLICY_FILE: policy }), { logger: silent }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
      expect(await settledClients()).toEqual([]);
    } finally {
      await rm(join(policy, '..'), { recursive: true, force: true });
    }
  });
});

describe('AsyncDisposableStack (the polyfill Node 20 needs)', () => {
  it('is the runtime’s own class where one exists', () => {
    const native = (globalThis as { AsyncDisposableStack?: unknown }).AsyncDisposableStack;
    expect(AsyncDisposableStack).toBe(native ?? PolyfillAsyncDisposableStack);
  });

  it('disposes in reverse order, runs every disposal when one fails, and throws the failures together', async () => {
    const order: string[] = [];
    const stack = new PolyfillAsyncDisposableStack();
    stack.defer(() => order.push('first'));
    stack.adopt('second', (v) => {
      order.push(v);
      return Promise.reject(new Error('second failed'));
    });
    stack.use({ [Symbol.asyncDispose]: () => Promise.resolve(void order.push('third')) });
    stack.defer(() => {
      order.push('fourth');
      throw new Error('fourth failed');
    });
    const err = await stack.disposeAsync().catch((e: unknown) => e);
    expect(order).toEqual(['fourth', 'third', 'second', 'first']);
    expect(err).toBeInstanceOf(DisposalError);
    expect((err as DisposalError).error).toMatchObject({ message: 'second failed' });
    expect((err as DisposalError).suppressed).toMatchObject({ message: 'fourth failed' });
    expect(stack.disposed).toBe(true);
    await stack.disposeAsync(); // once only
    expect(order).toHaveLength(4);
  });

  it('`await using` releases on a throw; move() hands what it holds to a new stack', async () => {
    const released: string[] = [];
    const open = async (fail: boolean) => {
      await using stack = new PolyfillAsyncDisposableStack();
      stack.defer(() => released.push('a'));
      if (fail) throw new Error('late failure');
      return stack.move();
    };
    await expect(open(true)).rejects.toThrow('late failure');
    expect(released).toEqual(['a']);
    const kept = await open(false);
    expect(released).toEqual(['a']);
    await kept.disposeAsync();
    expect(released).toEqual(['a', 'a']);
  });
});
