/**
 * Jobs through the API with the warm pool on (issue 12): a pooled container serves one job,
 * ever (container ids across 50 jobs); nothing one job leaves (files in /tmp, /work, /dev/shm, a
 * background process) is seen by the next; a job that lowers memory/cpus/pids runs pooled under
 * its own limits, one that tightens a limit fixed at create runs cold; a burst of 3x the pool
 * size all succeed and the pool makes exactly one container per claim; /readyz shows the pools.
 */
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_POOL } from '../src/sandbox/index.js';
import { docker, runJob, startTestAirlock, TEST_LABEL, type TestAirlock } from './helpers/airlock.js';

const MiB = 1024 * 1024;
const POOL_SIZE = 2;
let t: TestAirlock;
let key: string;

beforeAll(async () => {
  // heartbeats every second, so /readyz shows the pools soon
  t = await startTestAirlock('pool-jobs', { AIRLOCK_WORKER_CONCURRENCY: '2', AIRLOCK_POOL_SIZE: String(POOL_SIZE), AIRLOCK_LOCK_DURATION_MS: '3000' });
  key = (await t.key('agent')).key;
});
afterAll(async () => {
  await t?.stop();
});
afterEach(async () => {
  expect(await t.containers()).toEqual([]);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sh = (command: string, extra: Record<string, unknown> = {}) => ({ runtime: 'shell', command, ...extra });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The container job.start recorded for a job. */
async function containerOf(jobId: string): Promise<string> {
  const res = await t.request('GET', `/v1/jobs/${jobId}/audit?limit=100`, key);
  const start = (res.body.records as { action: string; details?: { containerId?: string } }[]).find((r) => r.action === 'job.start');
  return start?.details?.containerId ?? '';
}

/** The shell pool's containers not claimed by any job, once there are exactly `n` running. */
const readyShell = (n = POOL_SIZE) =>
  until(`${n} ready shell containers`, async () => {
    const list = await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${t.testId}`, `${LABEL_POOL}=shell`] } });
    const unclaimed = list.filter((c) => !(c.Names[0] ?? '').includes('airlock-claim.'));
    return unclaimed.length === n && unclaimed.every((c) => c.State === 'running') ? unclaimed : undefined;
  });

describe('with the pool on', () => {
  it('a pooled container serves one job, ever: 50 jobs, 50 distinct containers, each removed afterwards', async () => {
    const seen: { id: string; container: string; hostname: string; pooled: boolean }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        while (next++ < 50) {
          const job = await runJob(t, key, sh('hostname'));
          expect(job.status).toBe('succeeded');
          seen.push({ id: job.id, container: await containerOf(job.id), hostname: job.stdout.trim(), pooled: job.sandbox.pooled });
        }
      }),
    );
    expect(seen).toHaveLength(50);
    expect(seen.filter((s) => s.pooled)).toHaveLength(50);
    // what ran is what the audit names: the container's own hostname is its id's prefix
    for (const s of seen) expect(s.container.slice(0, 12)).toBe(s.hostname);
    expect(new Set(seen.map((s) => s.container)).size).toBe(50);
    for (const s of seen) await expect(docker.getContainer(s.container).inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 180_000);

  it('nothing one job leaves is seen by the next: files in /tmp, /work and /dev/shm, a background process', async () => {
    const leave = [
      'echo left > /tmp/left; echo left > /work/left; echo left > /dev/shm/left',
      'setsid sleep 300 </dev/null >/dev/null 2>&1 &',
      'sleep 0.2; kill -0 $! && echo sleeper running',
      'cat /tmp/left /work/left /dev/shm/left',
    ].join('\n');
    const look = [
      'for f in /tmp/left /work/left /dev/shm/left; do [ -e $f ] && echo "found $f"; done',
      'for p in /proc/[0-9]*; do [ "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" = "sleep 300 " ] && echo "found sleeper $p"; done',
      'echo looked',
    ].join('\n');
    for (let i = 0; i < 3; i++) {
      const a = await runJob(t, key, sh(leave));
      expect(a).toMatchObject({ status: 'succeeded', stdout: 'sleeper running\nleft\nleft\nleft\n', sandbox: { pooled: true } });
      const b = await runJob(t, key, sh(look));
      expect(b).toMatchObject({ status: 'succeeded', stdout: 'looked\n', sandbox: { pooled: true } });
    }
  }, 120_000);

  it('a job lowering memory, cpus and pids runs pooled under its own limits; one tightening /tmp runs cold', async () => {
    const cgroup = 'cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us';
    const lowered = await runJob(t, key, sh(cgroup, { limits: { memoryBytes: 64 * MiB, pids: 32, cpus: 0.5 } }));
    expect(lowered).toMatchObject({ status: 'succeeded', stdout: `${64 * MiB}\n${64 * MiB}\n32\n50000\n`, sandbox: { pooled: true } });
    const tmp = await runJob(t, key, sh('df -B1 /tmp | tail -1', { limits: { tmpBytes: MiB } }));
    expect(tmp).toMatchObject({ status: 'succeeded', sandbox: { pooled: false, waitMs: 0 } });
    expect(tmp.stdout.split(/\s+/)[1]).toBe(String(MiB));
  });

  it('a burst of 3x the pool size all succeed, and the pool makes exactly one container per claim (never more than its target)', async () => {
    await readyShell();
    // event times are whole seconds: start the window after the pool's own creations
    await sleep(1100);
    const since = Math.floor(Date.now() / 1000);
    const ids = await Promise.all(
      Array.from({ length: 3 * POOL_SIZE }, async (_, i) => {
        const res = await t.request('POST', '/v1/jobs', key, sh(`echo burst ${i}`));
        expect(res.status).toBe(202);
        return res.body.id as string;
      }),
    );
    const jobs = await Promise.all(
      ids.map((id) =>
        until(`job ${id}`, async () =>
          (await t.request('GET', `/v1/jobs/${id}?wait=10`, key)).body.status === 'succeeded' ? (await t.request('GET', `/v1/jobs/${id}`, key)).body : undefined,
        ),
      ),
    );
    await readyShell();
    const until_ = Math.ceil(Date.now() / 1000) + 1;
    const pooled = jobs.filter((j) => j.sandbox.pooled === true).length;
    expect(pooled).toBe(3 * POOL_SIZE);
    const stream = (await docker.getEvents({
      since,
      until: until_,
      filters: JSON.stringify({ type: ['container'], event: ['create'], label: [`${TEST_LABEL}=${t.testId}`, `${LABEL_POOL}=shell`] }),
    } as object)) as unknown as Readable;
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    const created = text.split('\n').filter((l) => l.trim() !== '').length;
    // each claim made one replacement, and the pool is back at its target: nothing more was made
    expect(created).toBe(pooled);
  }, 120_000);

  it('/readyz shows each pool: its target, what is ready, what claims got', async () => {
    const ready = await until('pools in /readyz', async () => {
      const res = await t.request('GET', '/readyz', undefined);
      return res.body.pool?.shell?.ready === POOL_SIZE ? res.body : undefined;
    });
    expect(ready.pool).toMatchObject({ python: { target: POOL_SIZE }, node: { target: POOL_SIZE }, shell: { target: POOL_SIZE, ready: POOL_SIZE } });
    expect(ready.workers[0].pool.shell.hits).toBeGreaterThan(0);
  });
});
