/**
 * A replicated Redis of the test's own, from Debian's redis-server: a primary, two replicas and
 * three sentinels (`redis-server <conf> --sentinel`) on free loopback ports, with a quick failure
 * detector (down-after 1 s). `killPrimary()` is SIGKILL: no shutdown, no last sync.
 */
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MASTER_NAME = 'airlock-test';

export interface SentinelSet {
  readonly primaryPort: number;
  readonly replicaPorts: readonly number[];
  readonly sentinelPorts: readonly number[];
  /** AIRLOCK_* variables that put a deployment on this set. */
  env(): Record<string, string>;
  /** The port the sentinels name as master now. */
  masterPort(): Promise<number>;
  killPrimary(): Promise<void>;
  /** Waits until the sentinels name another master than `port` (a failover happened). */
  waitForFailover(fromPort: number, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function client(port: number): Redis {
  const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on('error', () => undefined);
  return r;
}

async function ask<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = client(port);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export async function startSentinelSet(): Promise<SentinelSet> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-sentinel-'));
  const procs = new Map<string, ChildProcess>();
  const start = (name: string, args: string[]) => {
    const p = spawn('redis-server', args, { stdio: 'ignore' });
    procs.set(name, p);
  };
  const primaryPort = await freePort();
  const replicaPorts = [await freePort(), await freePort()];
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction'];
  start('primary', ['--port', String(primaryPort), ...common, '--dbfilename', `p${primaryPort}.rdb`]);
  for (const port of replicaPorts) {
    start(`replica-${port}`, ['--port', String(port), ...common, '--dbfilename', `r${port}.rdb`, '--replicaof', '127.0.0.1', String(primaryPort)]);
    await until('the replica to sync', 10_000, () => ask(port, async (r) => ((await r.info('replication')).includes('master_link_status:up') ? true : undefined)));
  }
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    // sentinels rewrite their file (known peers, the current master), so each has its own
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    start(`sentinel-${port}`, [conf, '--sentinel']);
    sentinelPorts.push(port);
  }
  // every sentinel knows the replica and the two other sentinels before anything may fail
  for (const port of sentinelPorts) {
    await until(`sentinel ${port} to see the replicas and its peers`, 20_000, () =>
      ask(port, async (r) => {
        const replicas = (await r.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[];
        const peers = (await r.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
        return replicas.length === replicaPorts.length && peers.length === 2 ? true : undefined;
      }),
    );
  }
  const masterPort = () => ask(sentinelPorts[0]!, async (r) => Number(((await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as string[])[1]));

  return {
    primaryPort,
    replicaPorts,
    sentinelPorts,
    env: () => ({
      AIRLOCK_REDIS_URL: `redis://127.0.0.1:${primaryPort}`,
      AIRLOCK_REDIS_SENTINELS: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      AIRLOCK_REDIS_SENTINEL_MASTER: MASTER_NAME,
    }),
    masterPort,
    async killPrimary() {
      const p = procs.get('primary');
      if (p === undefined || p.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGKILL');
      await exited;
    },
    async waitForFailover(fromPort, timeoutMs) {
      return until('a failover', timeoutMs, async () => {
        const port = await masterPort();
        if (port === fromPort) return undefined;
        // promoted and answering as a master
        return ask(port, async (r) => ((await r.info('replication')).includes('role:master') ? port : undefined));
      });
    },
    async stop() {
      for (const p of procs.values()) {
        if (p.exitCode !== null || p.signalCode !== null) continue;
        const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
        p.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
