/**
 * A redis-server of the test's own, persisted to an append-only file in a folder of its own, that
 * the test shuts down (SHUTDOWN: the AOF is flushed) and starts again on the same port and the same
 * AOF: a Redis restart as an operator does one, without touching the machine's Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RestartableRedis {
  readonly url: string;
  readonly port: number;
  /** SHUTDOWN (the AOF is fsynced first); resolves once the process has exited. */
  shutdown(): Promise<void>;
  /** Starts again on the same port and AOF; resolves once it answers PING with the data loaded. */
  start(): Promise<void>;
  /** Stops it (if running) and deletes its folder. */
  destroy(): Promise<void>;
}

export async function startRestartableRedis(): Promise<RestartableRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-redis-'));
  let proc: ChildProcess | undefined;
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    const r = makeRedis(dir, port);
    try {
      proc = await r.launch();
    } catch {
      continue;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      shutdown: async () => {
        const p = proc;
        if (p === undefined || p.exitCode !== null) return;
        const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
        const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
        c.on('error', () => undefined);
        await c.call('SHUTDOWN').catch(() => undefined);
        c.disconnect();
        await exited;
        proc = undefined;
      },
      start: async () => {
        proc = await r.launch();
      },
      destroy: async () => {
        if (proc !== undefined && proc.exitCode === null) {
          const p = proc;
          const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
          p.kill('SIGKILL');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error('could not start a restartable redis-server');
}

function makeRedis(dir: string, port: number): { launch(): Promise<ChildProcess> } {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
  return {
    async launch() {
      const proc = spawn('redis-server', args, { stdio: 'ignore' });
      const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        for (let i = 0; i < 100 && proc.exitCode === null; i += 1) {
          await new Promise((r) => setTimeout(r, 50));
          const pong = await client.connect().then(
            () => client.ping(),
            () => null,
          );
          if (pong === 'PONG') return proc;
          client.disconnect();
        }
      } finally {
        client.disconnect();
      }
      proc.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not start`);
    },
  };
}
