/**
 * Worker failure modes with real processes: SIGKILL mid-job (stalled-job recovery and the
 * reaper), SIGTERM drain, and infrastructure failures that are retried then end as `error`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobOfContainer, LABEL_JOB } from '../src/sandbox/index.js';
import { docker, runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { TEST_REDIS_URL } from './helpers/redis.js';

const FAST_STALL = { AIRLOCK_LOCK_DURATION_MS: '2000', AIRLOCK_STALLED_INTERVAL_MS: '1000' };

function spawnWorker(prefix: string, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      AIRLOCK_ROLE: 'worker',
      AIRLOCK_REDIS_URL: TEST_REDIS_URL,
      AIRLOCK_REDIS_PREFIX: prefix,
      AIRLOCK_LOG_LEVEL: 'warn',
      AIRLOCK_WORKER_CONCURRENCY: '1',
      ...FAST_STALL,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// labelled with the job (cold), or named after it by its claim (from the warm pool)
const jobContainers = async (jobId: string) =>
  (await docker.listContainers({ all: true, filters: { label: ['airlock.managed=true'] } })).filter((c) => jobOfContainer(c.Labels, c.Names, LABEL_JOB) === jobId);
const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

describe('worker killed mid-job', () => {
  let api: TestAirlock;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    api = await startTestAirlock('recovery', { AIRLOCK_ROLE: 'api', ...FAST_STALL });
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await api?.stop();
  });

  it('a new worker finishes the job and the orphaned container is reaped', async () => {
    const key = (await api.key('agent')).key;
    const first = spawnWorker(api.prefix);
    children.push(first);
    const submitted = await api.request('POST', '/v1/jobs', key, { runtime: 'shell', command: 'sleep 4; echo finished' });
    const id = submitted.body.id as string;
    const orphan = await until('the first container', async () => (await jobContainers(id))[0]);
    expect((await api.request('GET', `/v1/jobs/${id}`, key)).body.status).toBe('running');

    first.kill('SIGKILL');
    await exited(first);
    // the container outlives its worker until someone reaps it
    expect((await jobContainers(id)).map((c) => c.Id)).toContain(orphan.Id);

    const second = spawnWorker(api.prefix);
    children.push(second);
    const done = await until(
      'the job to finish',
      async () => {
        const j = (await api.request('GET', `/v1/jobs/${id}?wait=5`, key)).body;
        return j.status !== 'running' && j.status !== 'queued' ? j : undefined;
      },
      40_000,
    );
    expect(done).toMatchObject({ status: 'succeeded', stdout: 'finished\n', attempts: 2 });
    await until('the orphan to be removed', async () => (await jobContainers(id)).length === 0);
    await expect(docker.getContainer(orphan.Id).inspect()).rejects.toMatchObject({ statusCode: 404 });

    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
  }, 90_000);

  it('SIGTERM drains: the running job finishes, then the worker exits 0', async () => {
    const key = (await api.key('agent')).key;
    const worker = spawnWorker(api.prefix);
    children.push(worker);
    const submitted = await api.request('POST', '/v1/jobs', key, { runtime: 'shell', command: 'sleep 2; echo drained' });
    const id = submitted.body.id as string;
    await until('the container', async () => (await jobContainers(id))[0]);
    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
    const job = (await api.request('GET', `/v1/jobs/${id}`, key)).body;
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'drained\n' });
    expect(await jobContainers(id)).toEqual([]);
  }, 60_000);
});

describe('infrastructure failures', () => {
  let t: TestAirlock;
  let dataDir: string;
  beforeAll(async () => {
    // an image catalog naming an image that does not exist: the engine answers 404
    dataDir = await mkdtemp(join(tmpdir(), 'airlock-missing-image-'));
    const missing = { id: `sha256:${'0'.repeat(64)}`, tag: 'airlock/none:none' };
    await writeFile(join(dataDir, 'images.json'), JSON.stringify({ python: missing, node: missing, shell: missing }));
    t = await startTestAirlock('infra', { AIRLOCK_DATA_DIR: dataDir, AIRLOCK_JOB_ATTEMPTS: '3', AIRLOCK_RETRY_BACKOFF_MS: '100' });
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a missing image is retried with backoff, then ends as error with the reason', async () => {
    const key = (await t.key('agent')).key;
    const job = await runJob(t, key, { runtime: 'shell', command: 'echo never' });
    expect(job.status).toBe('error');
    expect(job.error.code).toBe('IMAGE_MISSING');
    expect(job.error.message).toMatch(/not present/);
    expect(job.attempts).toBe(3);
    expect(await t.containers()).toEqual([]);
  }, 60_000);
});
