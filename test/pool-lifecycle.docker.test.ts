/**
 * The warm pool over a worker's life, with real processes (issue 12): a worker fills its pool
 * once it starts; SIGTERM leaves no pooled container; a worker killed with SIGKILL leaves its
 * pool behind, and the next worker reaps it once the dead one's heartbeat has expired.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { LABEL_POOL } from '../src/sandbox/index.js';
import { docker } from './helpers/airlock.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';

const prefix = uniquePrefix('pool-life');
const children: ChildProcess[] = [];

function spawnWorker(workerId: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      AIRLOCK_ROLE: 'worker',
      AIRLOCK_WORKER_ID: workerId,
      AIRLOCK_REDIS_URL: TEST_REDIS_URL,
      AIRLOCK_REDIS_PREFIX: prefix,
      AIRLOCK_LOG_LEVEL: 'warn',
      AIRLOCK_WORKER_CONCURRENCY: '1',
      // no AIRLOCK_POOL_SIZE: each plain-tier pool holds the concurrency (1), the gVisor ones none
      // heartbeats live 2 s: a dead worker's containers are orphans soon
      AIRLOCK_LOCK_DURATION_MS: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.resume();
  child.stderr?.resume();
  children.push(child);
  return child;
}

const poolOf = async (workerId: string) =>
  (await docker.listContainers({ all: true, filters: { label: [`airlock.deployment=${prefix}`, `airlock.worker=${workerId}`, LABEL_POOL] } })).map((c) => ({
    id: c.Id,
    state: c.State,
    pool: c.Labels[LABEL_POOL],
  }));
const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One running container per profile (python, node, shell), once the worker's pool is full. */
const filled = (workerId: string) =>
  until(`${workerId}'s pool`, async () => {
    const list = await poolOf(workerId);
    return list.length === 3 && list.every((c) => c.state === 'running') ? list : undefined;
  });

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const c of await docker.listContainers({ all: true, filters: { label: [`airlock.deployment=${prefix}`] } })) await docker.getContainer(c.Id).remove({ force: true });
  const redis = testRedis();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

it('SIGTERM leaves no pooled container', async () => {
  const id = `w-term-${randomBytes(3).toString('hex')}`;
  const worker = spawnWorker(id);
  const pool = await filled(id);
  expect(pool.map((c) => c.pool).sort()).toEqual(['node', 'python', 'shell']);
  worker.kill('SIGTERM');
  expect(await exited(worker)).toBe(0);
  expect(await poolOf(id)).toEqual([]);
}, 60_000);

it("a crashed worker's pool is reaped by the next worker", async () => {
  const dead = `w-dead-${randomBytes(3).toString('hex')}`;
  const crashed = spawnWorker(dead);
  const left = await filled(dead);
  crashed.kill('SIGKILL');
  await exited(crashed);
  // nothing removes them but another worker's reaper
  expect((await poolOf(dead)).map((c) => c.id).sort()).toEqual(left.map((c) => c.id).sort());

  const next = `w-next-${randomBytes(3).toString('hex')}`;
  const survivor = spawnWorker(next);
  await until('the dead pool reaped', async () => ((await poolOf(dead)).length === 0 ? true : undefined));
  for (const c of left) await expect(docker.getContainer(c.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  // and the survivor keeps its own
  await filled(next);
  survivor.kill('SIGTERM');
  expect(await exited(survivor)).toBe(0);
  expect(await poolOf(next)).toEqual([]);
}, 90_000);
