/**
 * Chaos: the machine's dockerd restarted (SIGTERM: it stops every container, as its shutdown does;
 * then started again with its own command line) with jobs running. Those jobs are retried as
 * infrastructure failures and succeed: an engine that vanishes mid-job is retryable whatever
 * errno the socket gives, and the kill the engine's shutdown deals is not the program's exit.
 * Removals that failed while the engine was away are retried and the periodic reaper removes
 * what is left: no container of the deployment remains, without a worker restart. Every job is
 * run to completion once, the audit log verifies. dockerd is started again whatever happens
 * (afterAll). Runs only in the chaos project, alone on the machine.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureDockerd, finishesPerJob, restartDockerd, startChaosDeployment, type ChaosDeployment } from './helpers/chaos.js';
import { startRestartableRedis, type RestartableRedis } from './helpers/restartable-redis.js';

let redis: RestartableRedis;
let d: ChaosDeployment;

beforeAll(async () => {
  redis = await startRestartableRedis();
  // a heartbeat (and reap) every ~3 s; the pool off so every container is a job's
  d = await startChaosDeployment('dockerd', { redisUrl: redis.url, env: { AIRLOCK_POOL_SIZE: '0', AIRLOCK_JOB_ATTEMPTS: '5', AIRLOCK_RETRY_BACKOFF_MS: '2000' } });
});
afterAll(async () => {
  await ensureDockerd();
  await d?.stop();
  await redis?.destroy();
}, 180_000);

it('dockerd restarted with jobs running: they are retried and succeed, nothing leaks', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 6; i += 1) ids.push(await d.submit({ runtime: 'shell', command: `sleep 6; echo job ${i}` }));
  for (;;) {
    const states = await Promise.all(ids.map(async (id) => (await d.request('GET', `/v1/jobs/${id}`)).body.status as string));
    if (states.filter((s) => s === 'running').length >= 3) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1500));
  await restartDockerd(3000);

  const jobs = await d.settle(ids, 240_000);
  for (const [id, job] of jobs) expect({ id, status: job.status, stdout: job.stdout }).toEqual({ id, status: 'succeeded', stdout: `job ${ids.indexOf(id)}\n` });
  const records = await d.auditRecords();
  for (const id of ids) expect({ id, finishes: finishesPerJob(records).get(id) }).toEqual({ id, finishes: 1 });
  // a job.finish of error never precedes the success: the retried attempts ended as retries
  expect(records.filter((r) => r.action === 'job.finish' && ids.includes(r.target)).map((r) => r.outcome?.result)).toEqual(ids.map(() => 'succeeded'));
  // the same worker (no restart) removes what the outage left, within a few beats
  const deadline = Date.now() + 60_000;
  while ((await d.containers()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  expect(await d.containers()).toEqual([]);
  expect((await d.auditVerify()).exit).toBe(0);
}, 400_000);
